/**
 * The few path operations we need, for POSIX paths. Our own because importing any `node:`
 * module starts Deno's Node compatibility layer, which costs a check several milliseconds on
 * every run (measured by the benchmark).
 */

/** Join path segments with "/" and normalise "//", "." and "..". */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return normalize(joined === "" ? "." : joined);
}

export function normalize(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(seg);
  }
  const body = out.join("/");
  const result = absolute ? `/${body}` : body === "" ? "." : body;
  return path.endsWith("/") && body !== "" ? `${result}/` : result;
}

/** The directory part of a path ("/a/b" → "/a", "b" → "."). */
export function dirname(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const i = trimmed.lastIndexOf("/");
  if (i === -1) return ".";
  if (i === 0) return "/";
  return trimmed.slice(0, i);
}

/** The last segment of a path. */
export function basename(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** A file: URL as a path; other URLs (a compiled binary's) unchanged. */
export function fromFileUrl(url: string): string {
  if (!url.startsWith("file:")) return url;
  return decodeURIComponent(new URL(url).pathname);
}
