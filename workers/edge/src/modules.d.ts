// hls.js's browser bundle is imported as text (wrangler `[[rules]] type = "Text"`), served at /_keyframe/hls.min.js.
declare module "hls.js/dist/hls.min.js" {
  const source: string;
  export default source;
}
