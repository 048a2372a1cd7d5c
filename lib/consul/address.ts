/**
 * Where and how to talk to the agent, with the consul CLI's conventions: flags beat env; among
 * env vars the token file beats the token; CONSUL_HTTP_SSL=true forces https even on an
 * http:// address. An address is a scheme, host and port only: a path, query or fragment would
 * send every request somewhere else (where a 404 could pass for "no such key"), and credentials
 * in it are refused — never echoed.
 */
import { ConfigError } from "../errors.ts";
import { type Env, envBool } from "../env.ts";

export interface Connection {
  baseUrl: string;
  token?: string;
  /** Where the token came from, for `config show` (never the token itself). */
  tokenSource: "flag" | "CONSUL_HTTP_TOKEN_FILE" | "CONSUL_HTTP_TOKEN" | "none";
  tls?: { caCert?: string; cert?: string; key?: string };
}

export interface ConnectionInput {
  flagAddr?: string;
  flagToken?: string;
  env: Env;
  readFile: (path: string) => string;
}

/** Resolve address, token and TLS material (pure but for the injected file reader). */
export function resolveConnection(input: ConnectionInput): Connection {
  const { env } = input;
  const given = (input.flagAddr ?? env("CONSUL_HTTP_ADDR") ?? "127.0.0.1:8500").trim();
  const raw = redactAddress(given);
  let scheme = "http";
  let rest = given;
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(.*)$/.exec(given);
  if (m) {
    scheme = m[1]!.toLowerCase();
    rest = m[2]!;
    if (scheme === "unix") {
      throw new ConfigError(`Consul address ${raw}: unix sockets are not supported; use host:port`);
    }
    if (scheme !== "http" && scheme !== "https") {
      throw new ConfigError(
        `Consul address ${raw}: unknown scheme "${scheme}" (use http:// or https://)`,
      );
    }
  }
  if (rest === "" || /\s/.test(rest)) {
    throw new ConfigError(`Consul address "${raw}" is not host:port`);
  }
  if (envBool(env("CONSUL_HTTP_SSL")) === true) scheme = "https";
  let url: URL;
  try {
    url = new URL(`${scheme}://${rest}`);
  } catch {
    throw new ConfigError(`Consul address "${raw}" is not host:port`);
  }
  if (url.username || url.password) {
    throw new ConfigError(
      `Consul address "${raw}" carries credentials, which are not supported; ` +
        `use an ACL token (CONSUL_HTTP_TOKEN_FILE)`,
    );
  }
  if (url.pathname !== "/" && url.pathname !== "" || url.search !== "" || url.hash !== "") {
    throw new ConfigError(
      `Consul address "${raw}" has a path, query or fragment; give only host:port ` +
        `(with http:// or https://)`,
    );
  }
  const baseUrl = `${url.protocol}//${url.host}`;

  let token: string | undefined;
  let tokenSource: Connection["tokenSource"] = "none";
  const tokenFile = env("CONSUL_HTTP_TOKEN_FILE");
  if (input.flagToken) {
    token = input.flagToken;
    tokenSource = "flag";
  } else if (tokenFile) {
    try {
      token = input.readFile(tokenFile).trim();
    } catch (e) {
      throw new ConfigError(
        `cannot read CONSUL_HTTP_TOKEN_FILE ${tokenFile}: ${(e as Error).message.split("\n")[0]}`,
      );
    }
    tokenSource = "CONSUL_HTTP_TOKEN_FILE";
  } else if (env("CONSUL_HTTP_TOKEN")) {
    token = env("CONSUL_HTTP_TOKEN")!.trim();
    tokenSource = "CONSUL_HTTP_TOKEN";
  }

  // A header value cannot carry control characters (or anything past Latin-1), and fetch's
  // error for one quotes the value: the token would end up in the check's output and the logs.
  // deno-lint-ignore no-control-regex
  if (token && /[\u0000-\u001f\u007f]|[^\u0000-\u00ff]/.test(token)) {
    throw new ConfigError(
      `the ACL token (from ${tokenSource === "flag" ? "--token" : tokenSource}) contains a ` +
        `control character or a non-Latin-1 character and cannot be sent to Consul; the token ` +
        `is not shown`,
    );
  }
  const conn: Connection = { baseUrl, tokenSource };
  if (token) conn.token = token;
  if (scheme === "https") {
    if (envBool(env("CONSUL_HTTP_SSL_VERIFY")) === false) {
      throw new ConfigError(
        "CONSUL_HTTP_SSL_VERIFY=false is not supported: give the agent's CA with CONSUL_CACERT instead",
      );
    }
    const serverName = env("CONSUL_TLS_SERVER_NAME");
    if (serverName && serverName !== url.hostname) {
      throw new ConfigError(
        `CONSUL_TLS_SERVER_NAME=${serverName} differs from the address host ${url.hostname}; ` +
          `use https://${serverName}:${
            url.port || 443
          } as the address (it must resolve to the agent)`,
      );
    }
    const tls: NonNullable<Connection["tls"]> = {};
    const ca = env("CONSUL_CACERT");
    const cert = env("CONSUL_CLIENT_CERT");
    const key = env("CONSUL_CLIENT_KEY");
    if ((cert && !key) || (!cert && key)) {
      throw new ConfigError("CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY must be given together");
    }
    const read = (name: string, path: string) => {
      try {
        return input.readFile(path);
      } catch (e) {
        throw new ConfigError(
          `cannot read ${name} ${path}: ${(e as Error).message.split("\n")[0]}`,
        );
      }
    };
    if (ca) tls.caCert = read("CONSUL_CACERT", ca);
    if (cert && key) {
      tls.cert = read("CONSUL_CLIENT_CERT", cert);
      tls.key = read("CONSUL_CLIENT_KEY", key);
    }
    if (tls.caCert || tls.cert) conn.tls = tls;
  }
  return conn;
}

/** An address as it may be shown: a password in its userinfo replaced by <redacted>. */
export function redactAddress(addr: string): string {
  return addr.replace(
    /^([^/]*\/\/)?([^/@]*?):([^/@]*)@/,
    (_m, scheme, user) => `${scheme ?? ""}${user}:<redacted>@`,
  );
}

/** The Deno HTTP client carrying TLS material, when there is any. */
export function httpClientFor(conn: Connection): Deno.HttpClient | undefined {
  if (!conn.tls) return undefined;
  const opts: Deno.CreateHttpClientOptions & Partial<Deno.TlsCertifiedKeyPem> = {};
  if (conn.tls.caCert) opts.caCerts = [conn.tls.caCert];
  if (conn.tls.cert && conn.tls.key) {
    opts.cert = conn.tls.cert;
    opts.key = conn.tls.key;
  }
  return Deno.createHttpClient(opts as Deno.CreateHttpClientOptions & Deno.TlsCertifiedKeyPem);
}
