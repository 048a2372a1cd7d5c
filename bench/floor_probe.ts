/**
 * The honest floor of a check that really looks at its service: a Deno process, under the same
 * permission flags as powerconsul, that asks the agent one question and, while the request is
 * in flight, spawns the probe (`service <name> status`), then exits when both are done.
 * Usage: floor_probe.ts <host:port> <consul service> <linux service>
 */
const [addr, service, linux] = Deno.args;
const probe = new Deno.Command("service", {
  args: [linux!, "status"],
  stdin: "null",
  stdout: "piped",
  stderr: "piped",
}).output();
const r = await fetch(`http://${addr}/v1/agent/health/service/name/${service}`);
await r.text();
await probe;
