/**
 * Reading all of a stream (stdin) with an optional signal: when it fires before the stream
 * ends, the read gives up with an error saying so. The signal's listener is removed as soon as
 * the read ends, so a deadline's timer never keeps a finished process alive.
 */
export async function readAllText(
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): Promise<string> {
  if (!signal) return await new Response(stream).text();
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let stop = () => {};
  const aborted = new Promise<never>((_, reject) => {
    stop = () => reject(new Error("stdin was not closed before the command's deadline"));
  });
  if (signal.aborted) stop();
  signal.addEventListener("abort", stop, { once: true });
  try {
    while (true) {
      const r = await Promise.race([reader.read(), aborted]);
      if (r.done) break;
      chunks.push(r.value);
    }
  } finally {
    signal.removeEventListener("abort", stop);
    reader.cancel().catch(() => {});
  }
  return await new Blob(chunks as BlobPart[]).text();
}
