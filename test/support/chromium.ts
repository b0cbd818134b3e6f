// Debian's Chromium driven by playwright-core (never downloads a browser).
// Without the background-networking flags Chromium keeps dialling Google
// hosts this machine cannot reach.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * Flags for a headless run on a machine without a GPU or outside network.
 * The last three keep a tab that is not in front (a test or benchmark opens
 * several) at full speed: Chromium otherwise runs its renderer at nice +5
 * and throttles its timers, as for a hidden tab.
 */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-renderer-backgrounding',
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
];

/** A headless Chromium with a fresh profile (its folder: `profile`); `close()` also removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; profile: string; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'deltaflare-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  return {
    context,
    profile,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
