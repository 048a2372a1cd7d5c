/**
 * For unit tests of rules that only hold for root (lock files and state directories must be
 * root-owned): they run as root, as CI does, and are reported ignored for any other user, so
 * `deno task test:unit` needs no root.
 */
export const ROOT_ONLY = { ignore: Deno.uid() !== 0 };
