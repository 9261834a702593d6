// The root tsconfig (server + tests) does not run the Vue compiler: component tests see .vue files as components.
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
