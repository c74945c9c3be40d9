// The dashboard's browser files and the vendored player/upload bundles are imported as text (wrangler
// `[[rules]] type = "Text"` in wrangler.toml) and served by this worker itself: no CDN, works offline.
declare module "*/client/app.js" {
  const source: string;
  export default source;
}
declare module "*/client/app.css" {
  const source: string;
  export default source;
}
declare module "tus-js-client/dist/tus.min.js" {
  const source: string;
  export default source;
}
