/** Vite's `?raw` imports (a file's text), used to check wrangler.toml against code. */
declare module "*?raw" {
  const text: string;
  export default text;
}
