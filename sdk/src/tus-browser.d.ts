// tus-js-client's browser build, imported by path (upload.ts): the same API as the package's main types.
declare module "tus-js-client/lib/browser/index.js" {
  export * from "tus-js-client";
}
