// Scalar's standalone browser bundle is imported as text (wrangler `[[rules]] type = "Text"`), served at /docs/scalar.js.
declare module "@scalar/api-reference/browser/standalone.js" {
  const source: string;
  export default source;
}
