// Local simulators by the setting that points the app at them. Adding a destination adds a line.
import type { SettingName } from '../../shared/settings.js';
import { startCampaignMonitorSimulator } from './campaignMonitorSimulator.js';
import { startDotdigitalSimulator } from './dotdigitalSimulator.js';
import { startMailchimpSimulator } from './mailchimpSimulator.js';
import { startIterableSimulator } from './iterableSimulator.js';
import { startLinkedinSimulator } from './linkedinSimulator.js';
import { startKlaviyoSimulator } from './klaviyoSimulator.js';
import { startGoogleAdsSimulator } from './googleAdsSimulator.js';

export interface RunningSimulator {
  setting: SettingName;
  name: string;
  url: string;
  /** The simulator object itself, for tests that inspect its state. */
  instance: unknown;
  stop(): Promise<void>;
}

type SimulatorOptions = Record<string, unknown>;

/**
 * The local stack (`npm start`, the integration tests) is a demo: lists and address books are
 * created on first use there. The simulators themselves answer an unknown one 404, as the vendors
 * do; a caller's own options win over these.
 */
export const DEMO_OPTIONS: Partial<Record<SettingName, SimulatorOptions>> = {
  CAMPAIGN_MONITOR_API_URL: { autoCreateLists: true },
  MAILCHIMP_API_URL: { autoCreateLists: true },
  DOTDIGITAL_API_URL: { autoCreateAddressBooks: true },
};

const SIMULATORS: {
  setting: SettingName;
  name: string;
  start(port: number, options: SimulatorOptions): Promise<{ url: string; stop(): Promise<void> }>;
}[] = [
  {
    setting: 'CAMPAIGN_MONITOR_API_URL',
    name: 'Campaign Monitor',
    start: (port, options) => startCampaignMonitorSimulator({ ...options, port }),
  },
  { setting: 'DOTDIGITAL_API_URL', name: 'dotdigital', start: (port, options) => startDotdigitalSimulator({ ...options, port }) },
  { setting: 'MAILCHIMP_API_URL', name: 'Mailchimp', start: (port, options) => startMailchimpSimulator({ ...options, port }) },
  { setting: 'ITERABLE_API_URL', name: 'Iterable', start: (port, options) => startIterableSimulator({ ...options, port }) },
  { setting: 'LINKEDIN_API_URL', name: 'LinkedIn', start: (port, options) => startLinkedinSimulator({ ...options, port }) },
  { setting: 'KLAVIYO_API_URL', name: 'Klaviyo', start: (port, options) => startKlaviyoSimulator({ ...options, port }) },
  { setting: 'GOOGLE_ADS_API_URL', name: 'Google Ads', start: (port, options) => startGoogleAdsSimulator({ ...options, port }) },
];

export async function startSimulators(options: {
  ports: Record<string, number>;
  /** Options per simulator, by its setting name (rate limits, faults, …). */
  options?: Record<string, SimulatorOptions>;
  skip(setting: SettingName): boolean;
}): Promise<RunningSimulator[]> {
  const running: RunningSimulator[] = [];
  for (const simulator of SIMULATORS) {
    if (options.skip(simulator.setting)) continue;
    const started = await simulator.start(options.ports[simulator.setting] ?? 0, {
      ...DEMO_OPTIONS[simulator.setting],
      ...options.options?.[simulator.setting],
    });
    running.push({ setting: simulator.setting, name: simulator.name, url: started.url, instance: started, stop: () => started.stop() });
  }
  return running;
}
