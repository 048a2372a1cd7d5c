/** Nothing at all: the cost of starting Deno under powerconsul's permission flags. */
export {};
