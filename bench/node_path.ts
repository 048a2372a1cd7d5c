/** Only `import "node:path"`: what Deno's Node compatibility layer costs a process to start. */
import "node:path";
