import { fileURLToPath } from "node:url";

/** A file: URL as a path; other URLs (a compiled binary's) unchanged. */
export function fromFileUrl(url: string): string {
  return url.startsWith("file:") ? fileURLToPath(url) : url;
}
