// Reads and writes local.settings.json (created from the sample on first use), the file the
// Functions tooling uses for app settings on a developer's machine.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalSettingsFile {
  IsEncrypted: boolean;
  Values: Record<string, string>;
  Host?: Record<string, unknown>;
}

export function localSettingsPath(projectDir = process.cwd()): string {
  return join(projectDir, 'local.settings.json');
}

export function readLocalSettings(projectDir = process.cwd()): LocalSettingsFile {
  const path = localSettingsPath(projectDir);
  if (!existsSync(path)) {
    const sample = join(projectDir, 'local.settings.sample.json');
    if (!existsSync(sample)) return { IsEncrypted: false, Values: {} };
    copyFileSync(sample, path);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as LocalSettingsFile;
}

export function writeLocalSettings(settings: LocalSettingsFile, projectDir = process.cwd()): void {
  writeFileSync(localSettingsPath(projectDir), `${JSON.stringify(settings, null, 2)}\n`);
}

/** A setting as the local host sees it: the environment wins over local.settings.json. */
export function localSetting(name: string, projectDir = process.cwd()): string | undefined {
  return process.env[name] || readLocalSettings(projectDir).Values[name] || undefined;
}
