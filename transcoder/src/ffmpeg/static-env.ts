/**
 * The environment to run an ffmpeg/ffprobe binary in. Statically linked builds (the npm-shipped ones,
 * johnvansickle.com's) carry their own glibc, but glibc's iconv still loads the host's gconv modules
 * (`/usr/lib/x86_64-linux-gnu/gconv/*.so`) with dlopen, and a module built against another glibc
 * crashes it: the npm ffprobe 5.x segfaulted on every MPEG-TS input, whose demuxer calls
 * `iconv_open` to decode the DVB service name (ISO_6937.so). Pointing `GCONV_PATH` at a directory
 * without modules makes `iconv_open` fail cleanly, and FFmpeg then keeps the name's raw bytes.
 * Dynamically linked (system) binaries are run with the environment as it is.
 */
import { closeSync, openSync, readSync } from "node:fs";
import path from "node:path";

const PT_INTERP = 3;
const staticCache = new Map<string, boolean>();

/** True for a 64-bit little-endian ELF executable without a program interpreter (statically linked). */
export function isStaticElf(binary: string): boolean {
  const cached = staticCache.get(binary);
  if (cached !== undefined) return cached;
  let result = false;
  let fd: number | undefined;
  try {
    fd = openSync(binary, "r");
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    const elf64le = n >= 64 && head.readUInt32BE(0) === 0x7f454c46 && head[4] === 2 && head[5] === 1;
    if (elf64le) {
      const phoff = Number(head.readBigUInt64LE(32));
      const phentsize = head.readUInt16LE(54);
      const phnum = head.readUInt16LE(56);
      const table = Buffer.alloc(phentsize * phnum);
      readSync(fd, table, 0, table.length, phoff);
      let interp = false;
      for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === PT_INTERP) interp = true;
      result = phnum > 0 && !interp;
    }
  } catch {
    result = false; // not readable here: spawn will say what is wrong
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  staticCache.set(binary, result);
  return result;
}

/** A directory that holds no gconv modules (it need not exist: glibc then finds none). */
const NO_GCONV_MODULES = path.join(path.sep, "nonexistent", "keyframe-no-gconv-modules");

/** The env for spawning `binary`: the process's own, plus GCONV_PATH for a statically linked one. */
export function binaryEnv(binary: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return isStaticElf(binary) ? { ...base, GCONV_PATH: NO_GCONV_MODULES } : base;
}
