// What each step of a data-out run gets from the writer, and how a step says it cannot go on.
import type { ContainerClient } from '@azure/storage-blob';
import type { ChunkState } from '../runs/worker.js';
import type { DataOutPlan } from './dataOutPlan.js';

export type Log = (line: string) => void;

/** What the engine's entry points pass: a line printer, or a structured logger with info(). */
export type LogInput = ((line: string) => void) | { info(message: string): void };

export function toLog(input: LogInput | undefined): Log {
  if (!input) return () => {};
  return typeof input === 'function' ? input : (line) => input.info(line);
}

export interface StepContext {
  plan: DataOutPlan;
  chunk: ChunkState;
  /** The destination container, opened on first use (reads the connection's secret). */
  destination(): Promise<ContainerClient>;
  /** Aborted when the chunk's lease is lost (another writer took it over). */
  signal: AbortSignal;
  /** Call often: throws Cancelled once the run is cancelled (checked at most once a second). */
  checkpoint(): Promise<void>;
  log: Log;
}

export class Cancelled extends Error {}

/** A failure no retry can fix: the chunk ends failed with this message. */
export class StepFailed extends Error {}
