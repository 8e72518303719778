// Local simulators by the setting that points the app at them. Adding a destination adds a line.
import type { SettingName } from '../../shared/settings.js';
import { startCampaignMonitorSimulator } from './campaignMonitorSimulator.js';

export interface RunningSimulator {
  setting: SettingName;
  name: string;
  url: string;
  stop(): Promise<void>;
}

const SIMULATORS: { setting: SettingName; name: string; start(port: number): Promise<{ url: string; stop(): Promise<void> }> }[] = [
  { setting: 'CAMPAIGN_MONITOR_API_URL', name: 'Campaign Monitor', start: (port) => startCampaignMonitorSimulator({ port }) },
];

export async function startSimulators(options: { ports: Record<string, number>; skip(setting: SettingName): boolean }): Promise<RunningSimulator[]> {
  const running: RunningSimulator[] = [];
  for (const simulator of SIMULATORS) {
    if (options.skip(simulator.setting)) continue;
    const started = await simulator.start(options.ports[simulator.setting] ?? 0);
    running.push({ setting: simulator.setting, name: simulator.name, url: started.url, stop: () => started.stop() });
  }
  return running;
}
