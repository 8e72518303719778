// The destinations Outflow knows. Adding one = its adapter file + simulator + one line here.
import { NotFound } from '../errors.js';
import type { DestinationAdapter } from './destination.js';
import { campaignMonitor } from './campaignMonitor.js';
import { dotdigital } from './dotdigital.js';
import { mailchimp } from './mailchimp.js';
import { iterable } from './iterable.js';
import { linkedin } from './linkedin.js';
import { azureBlob } from './azureBlob.js';
import { klaviyo } from './klaviyo.js';
import { googleAds } from './googleAds.js';

export const destinations: readonly DestinationAdapter[] = [
  campaignMonitor,
  dotdigital,
  iterable,
  mailchimp,
  linkedin,
  azureBlob,
  klaviyo,
  googleAds,
];

export const destinationTypes = destinations.map((destination) => destination.type);

export function findDestination(type: string): DestinationAdapter | undefined {
  return destinations.find((destination) => destination.type === type);
}

export function destinationFor(type: string): DestinationAdapter {
  const destination = findDestination(type);
  if (!destination) throw new NotFound(`Destination type '${type}' is not known. Known types: ${destinationTypes.join(', ')}.`);
  return destination;
}
