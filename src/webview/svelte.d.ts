// For tsc: .svelte files are compiled by esbuild-svelte and type-checked by svelte-check.
declare module '*.svelte' {
  import type { Component } from 'svelte';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const component: Component<any>;
  export default component;
}
