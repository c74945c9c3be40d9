/**
 * The browser side of `page.evaluate()` callbacks, typed for this project's tsconfig (which has no DOM lib):
 * only what the tests touch. Inside a callback write `const w = globalThis as unknown as PageGlobals` (with the
 * page's own functions added where it has some); the cast is erased, so nothing from here runs in the page.
 */
import type Hls from "hls.js";

export interface PageTextTrack {
  kind: string;
  label: string;
  mode: string;
  cues: Iterable<{ text: string; startTime: number }> | null;
}

export interface PageElement {
  src: string;
  width: string;
  height: string;
  dataset: Record<string, string | undefined>;
  appendChild(child: PageElement): void;
  getAttribute(name: string): string | null;
}

/** A <video>. */
export interface PageMedia extends PageElement {
  muted: boolean;
  paused: boolean;
  currentTime: number;
  play(): Promise<void>;
  textTracks: Iterable<PageTextTrack> & {
    addEventListener(type: "addtrack", listener: (e: { track: PageTextTrack }) => void): void;
  };
}

export interface PageStorage {
  readonly length: number;
  [key: string]: unknown;
}

export interface PageGlobals {
  document: {
    body: PageElement | null;
    cookie: string;
    createElement(tag: string): PageElement;
    getElementById(id: string): PageMedia | null;
    querySelector(selector: string): PageElement | null;
  };
  sessionStorage: PageStorage;
  localStorage: PageStorage;
  MutationObserver: new (
    callback: () => void,
  ) => {
    observe(
      target: PageElement,
      options: { attributes?: boolean; attributeFilter?: string[]; childList?: boolean; subtree?: boolean },
    ): void;
  };
  /** hls.js, where the page loads it. */
  Hls: typeof Hls;
}
