/**
 * The floor a check is compared with: a Deno process, under the same permission flags as
 * powerconsul, that asks the agent one question and exits. Usage: floor.ts <host:port> <service>
 */
const [addr, service] = Deno.args;
const r = await fetch(`http://${addr}/v1/agent/health/service/name/${service}`);
await r.text();
