/**
 * The CLI's state in the user's config dir ($XDG_CONFIG_HOME/keyframe, else ~/.config/keyframe):
 * config.json (base URL + API key, mode 0600, in a 0700 folder) and uploads.json, the tus URLs of
 * unfinished uploads by file fingerprint, so `keyframe upload FILE` resumes after an interruption.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type { PreviousUpload, UrlStorage } from "tus-js-client";

export interface CliConfig {
  base_url: string;
  api_key: string;
}

export function configDir(): string {
  const base = process.env.XDG_CONFIG_HOME || path.join(homedir(), ".config");
  return path.join(base, "keyframe");
}

function writePrivate(file: string, value: unknown) {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function readJson<T>(file: string, fallback: T): T {
  if (!existsSync(file)) return fallback;
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

export const configFile = () => path.join(configDir(), "config.json");
export const readConfig = () => readJson<Partial<CliConfig>>(configFile(), {});
export const writeConfig = (c: CliConfig) => writePrivate(configFile(), c);

type Stored = PreviousUpload & { urlStorageKey: string };

/** tus-js-client's UrlStorage over uploads.json. */
export class FileUrlStorage implements UrlStorage {
  private readonly file = path.join(configDir(), "uploads.json");
  private read = () => readJson<Stored[]>(this.file, []);
  async findAllUploads() {
    return this.read();
  }
  async findUploadsByFingerprint(fingerprint: string) {
    return this.read().filter((u) => u.urlStorageKey.startsWith(`${fingerprint}::`));
  }
  async removeUpload(urlStorageKey: string) {
    writePrivate(
      this.file,
      this.read().filter((u) => u.urlStorageKey !== urlStorageKey),
    );
  }
  async addUpload(fingerprint: string, upload: PreviousUpload) {
    const urlStorageKey = `${fingerprint}::${Math.random().toString(36).slice(2)}`;
    writePrivate(this.file, [...this.read(), { ...upload, urlStorageKey }]);
    return urlStorageKey;
  }
}
