/**
 * The embed player page: a small HTML shell, hls.js served from this worker (no CDN), and a script that
 * first fetches the master playlist so a refusal (expired token, disallowed origin) is shown as a
 * readable message instead of a silent black box. `document.body.dataset.state` reports
 * loading | playing | refused | error for automation.
 */

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function embedCsp(frameAncestors: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'unsafe-inline'",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "img-src 'self' data:",
    "worker-src 'self' blob:",
    frameAncestors,
  ].join("; ");
}

const STYLE = `html,body{margin:0;height:100%;background:#000;color:#eee;font:15px/1.4 system-ui,sans-serif}
video{width:100%;height:100%;display:block;background:#000}
#kf-message{position:absolute;inset:0;display:flex;align-items:center;justify-content:center;padding:24px;text-align:center;background:#000}
#kf-message[hidden]{display:none}
#kf-chapters{position:absolute;top:8px;right:8px;max-width:45%;max-height:70%;overflow:auto;background:rgba(0,0,0,.75);border-radius:6px;font-size:13px}
#kf-chapters summary{cursor:pointer;padding:6px 10px}
#kf-chapters ol{margin:0;padding:0 6px 6px;list-style:none}
#kf-chapters button{all:unset;cursor:pointer;display:block;padding:3px 6px;border-radius:4px}
#kf-chapters button:hover,#kf-chapters button[aria-current="true"]{background:#333}`;

/** The chapter list shown over the player, and the WebVTT file given to the video as its chapters track. */
export interface EmbedChapters {
  src: string;
  cues: { start: number; end: number; title: string }[];
}

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm.padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

function chapterList(ch: EmbedChapters): string {
  const items = ch.cues
    .map(
      (c) =>
        `<li><button type="button" data-start="${c.start}" data-end="${c.end}">${clock(c.start)} ${escapeHtml(c.title)}</button></li>`,
    )
    .join("");
  return `<details id="kf-chapters"><summary>Chapters (${ch.cues.length})</summary><ol>${items}</ol></details>`;
}

export function embedPage(opts: {
  src: string | null;
  poster: string | null;
  message: string | null;
  chapters?: EmbedChapters | null;
}): string {
  const state = opts.message ? "refused" : "loading";
  const video = opts.src
    ? `<video id="kf-video" controls playsinline preload="metadata" data-src="${escapeHtml(opts.src)}"${
        opts.poster ? ` poster="${escapeHtml(opts.poster)}"` : ""
      }>${opts.chapters ? `<track kind="chapters" default srclang="en" label="Chapters" src="${escapeHtml(opts.chapters.src)}">` : ""}</video>${
        opts.chapters ? chapterList(opts.chapters) : ""
      }`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin"><title>Keyframe player</title><style>${STYLE}</style></head>
<body data-state="${state}">${video}<div id="kf-message" role="alert"${opts.message ? "" : " hidden"}>${
    opts.message ? escapeHtml(opts.message) : ""
  }</div>${opts.src ? `<script src="/_keyframe/hls.min.js"></script><script src="/_keyframe/embed.js"></script>` : ""}</body></html>`;
}

export const EMBED_JS = `(function () {
  var video = document.getElementById("kf-video");
  var box = document.getElementById("kf-message");
  if (!video) return;
  var src = video.getAttribute("data-src");
  function show(state, text) {
    document.body.dataset.state = state;
    box.textContent = text;
    box.hidden = false;
  }
  fetch(src, { cache: "no-store" }).then(function (res) {
    if (!res.ok) {
      return res.json().then(
        function (b) { show("refused", "Playback refused: " + (b.message || b.reason || res.status)); },
        function () { show("refused", "Playback unavailable (HTTP " + res.status + ")."); }
      );
    }
    video.addEventListener("playing", function () { document.body.dataset.state = "playing"; });
    video.addEventListener("ended", function () { document.body.dataset.state = "ended"; });
    if (window.Hls && window.Hls.isSupported()) {
      var hls = new window.Hls();
      hls.on(window.Hls.Events.ERROR, function (_e, d) { if (d.fatal) show("error", "Playback error: " + d.details); });
      hls.loadSource(src);
      hls.attachMedia(video);
      window.keyframeHls = hls;
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
    } else {
      show("error", "This browser cannot play HLS video.");
    }
    document.body.dataset.state = "ready";
    var list = document.getElementById("kf-chapters");
    if (list) {
      var buttons = list.querySelectorAll("button[data-start]");
      list.addEventListener("click", function (e) {
        var b = e.target.closest("button[data-start]");
        if (!b) return;
        video.currentTime = Number(b.getAttribute("data-start"));
        video.play().catch(function () {});
      });
      video.addEventListener("timeupdate", function () {
        var t = video.currentTime;
        for (var i = 0; i < buttons.length; i++) {
          var on = t >= Number(buttons[i].getAttribute("data-start")) && t < Number(buttons[i].getAttribute("data-end"));
          buttons[i].setAttribute("aria-current", on ? "true" : "false");
        }
      });
    }
  }, function () { show("error", "Network error while loading the video."); });
})();
`;
