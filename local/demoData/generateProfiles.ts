// Deterministic, realistic lake content for local use and benchmarks. Every row is a pure
// function of (seed, index): any row can be produced on its own, nothing is kept between rows,
// so memory stays flat whatever the size, and the same seed always yields the same lake.
import type { SegmentType } from '../../shared/lake/cdmModel.js';
import { ACCOUNT_ENTITY, CONTACT_ENTITY, PROFILE_ENTITY, type EntityDefinition } from '../../shared/lake/platformEntities.js';

export { ACCOUNT_ENTITY, CONTACT_ENTITY, PROFILE_ENTITY, type EntityDefinition };

export type LakeKind = 'b2c' | 'b2b';
export const LAKE_KINDS: readonly LakeKind[] = ['b2c', 'b2b'];

export interface SegmentDefinition {
  /** CDM entity name; also the segment id in the API. */
  entityName: string;
  /** Display name. */
  name: string;
  type: SegmentType;
  description: string;
}

export interface GeneratedRow {
  /** Column values in attribute order. */
  values: string[];
  /** Bit i set = member of segments[i] of the source. */
  memberOf: number;
}

/** One entity generated row by row, plus the segments whose members are its rows. */
export interface RowSource {
  entity: EntityDefinition;
  count: number;
  segments: SegmentDefinition[];
  row(index: number): GeneratedRow;
}

export interface GeneratorOptions {
  seed: number;
  /** Share of rows whose email is invalid (empty or without @). Default 0. */
  invalidEmailRate?: number;
  /** Share of rows whose (valid) email has upper case or surrounding spaces. Default 0.02. */
  messyEmailRate?: number;
}

/** The segment every lake has, with every profile (b2c) or contact (b2b). */
export const ALL_CUSTOMERS = 'All customers';

export const B2C_SEGMENTS: SegmentDefinition[] = [
  { entityName: 'Segment_AllCustomers', name: ALL_CUSTOMERS, type: 'Profile', description: 'Every unified customer profile.' },
  { entityName: 'Segment_LoyalMembers', name: 'Loyal members', type: 'Profile', description: 'Loyalty tier Silver, Gold or Platinum.' },
  {
    entityName: 'Segment_NewsletterNorway',
    name: 'Newsletter Norway',
    type: 'Profile',
    description: 'Customers in Norway who opted in to the newsletter.',
  },
  {
    entityName: 'Segment_LapsedBuyers',
    name: 'Lapsed buyers',
    type: 'Profile',
    description: 'No purchase in the 12 months before the reference date.',
  },
  { entityName: 'Segment_VIP', name: 'VIP', type: 'Profile', description: 'Total spend of 5,000 or more.' },
];

export const B2B_CONTACT_SEGMENTS: SegmentDefinition[] = [
  { entityName: 'Segment_AllCustomers', name: ALL_CUSTOMERS, type: 'Contact', description: 'Every contact.' },
  {
    entityName: 'Segment_DecisionMakers',
    name: 'Decision makers',
    type: 'Contact',
    description: 'Contacts with a C-level, director, head or VP title.',
  },
  {
    entityName: 'Segment_NewsletterSubscribers',
    name: 'Newsletter subscribers',
    type: 'Contact',
    description: 'Contacts who opted in to the newsletter.',
  },
];

export const B2B_ACCOUNT_SEGMENTS: SegmentDefinition[] = [
  {
    entityName: 'Segment_EnterpriseAccounts',
    name: 'Enterprise accounts',
    type: 'Account',
    description: 'Accounts with 1,000 or more employees.',
  },
  { entityName: 'Segment_NordicAccounts', name: 'Nordic accounts', type: 'Account', description: 'Accounts in Norway or Denmark.' },
];

/** Accounts generated for a b2b lake of `contacts` contacts (about ten contacts each). */
export function accountCountFor(contacts: number): number {
  return Math.max(1, Math.ceil(contacts / 10));
}

/** The entities and segments of a lake of this kind, each a source of rows. */
export function lakeSources(kind: LakeKind, profiles: number, options: GeneratorOptions): RowSource[] {
  const context = new Context(options);
  if (kind === 'b2c') {
    return [{ entity: PROFILE_ENTITY, count: profiles, segments: B2C_SEGMENTS, row: (index) => profileRow(context, index) }];
  }
  const accounts = accountCountFor(profiles);
  return [
    { entity: CONTACT_ENTITY, count: profiles, segments: B2B_CONTACT_SEGMENTS, row: (index) => contactRow(context, index, accounts) },
    { entity: ACCOUNT_ENTITY, count: accounts, segments: B2B_ACCOUNT_SEGMENTS, row: (index) => accountRow(context, index) },
  ];
}

// ---------------------------------------------------------------------------------------------
// Randomness: a small PRNG re-seeded per row from (seed, stream, index), so rows are independent.

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

class Rng {
  private state = 0;
  reset(seed: number, stream: number, index: number): this {
    this.state = mix(mix(seed, stream), index);
    return this;
  }
  /** mulberry32: fast, good enough for test data. */
  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  next(): number {
    return this.u32() / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(probability: number): boolean {
    return probability > 0 && this.next() < probability;
  }
  digits(count: number): string {
    let out = '';
    for (let i = 0; i < count; i++) out += String.fromCharCode(48 + this.int(10));
    return out;
  }
  guid(): string {
    const a = this.u32();
    const b = this.u32();
    const c = this.u32();
    const d = this.u32();
    // Version 4 and RFC 4122 variant bits, like a random UUID.
    const version = (b & 0xffff0fff) | 0x00004000;
    const variant = (c & 0x3fffffff) | 0x80000000;
    return `${hex32(a)}-${hex16(version >>> 16)}-${hex16(version & 0xffff)}-${hex16(variant >>> 16)}-${hex16(variant & 0xffff)}${hex32(d)}`;
  }
}

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
function hex16(n: number): string {
  return HEX2[(n >>> 8) & 0xff]! + HEX2[n & 0xff]!;
}
function hex32(n: number): string {
  return hex16(n >>> 16) + hex16(n & 0xffff);
}

const STREAM = { profile: 1, account: 2, contact: 3 } as const;

class Context {
  readonly seed: number;
  readonly invalidEmailRate: number;
  readonly messyEmailRate: number;
  /** A second generator for account facts a contact needs, so the contact's own draws stay put. */
  readonly rng = new Rng();
  readonly accountRng = new Rng();
  constructor(options: GeneratorOptions) {
    this.seed = options.seed >>> 0;
    this.invalidEmailRate = clampRate(options.invalidEmailRate ?? 0);
    this.messyEmailRate = clampRate(options.messyEmailRate ?? 0.02);
  }
}

function clampRate(rate: number): number {
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw new RangeError(`rate must be between 0 and 1, got ${rate}`);
  return rate;
}

// ---------------------------------------------------------------------------------------------
// Reference data. Names are [display, ascii for email] pairs so no row pays for normalising.

type Name = readonly [display: string, ascii: string];
const names = (list: string): Name[] =>
  list.split('|').map((entry) => {
    const [display, ascii] = entry.split('=');
    return [display!, ascii ?? display!.toLowerCase()] as const;
  });

interface Country {
  name: string;
  language: string;
  weight: number;
  female: Name[];
  male: Name[];
  last: Name[];
  cities: readonly (readonly [city: string, postalBase: number])[];
  streets: readonly string[];
  emailDomains: readonly string[];
  tld: string;
  postal(rng: Rng, base: number): string;
  phone(rng: Rng): string;
  address(rng: Rng, street: string): string;
  companyWords: readonly string[];
  companySuffix: string;
}

const COUNTRIES: Country[] = [
  {
    name: 'Norway',
    language: 'nb',
    weight: 35,
    female: names(
      'Åse=ase|Ingrid|Kari|Sigrid|Solveig|Marit|Ragnhild|Astrid|Frøydis=froydis|Ida|Thea|Tone|Hege|Eli|Bodil|Nora|Emma|Synnøve=synnove',
    ),
    male: names(
      'Bjørn=bjorn|Ola|Nils|Øystein=oystein|Håkon=hakon|Torbjørn=torbjorn|Eirik|Jørgen=jorgen|Ståle=stale|Kristoffer|Lars|Magnus|Sindre|Per|Knut|Even|Aksel|Halvard',
    ),
    last: names(
      'Hansen|Johansen|Olsen|Larsen|Andersen|Pedersen|Nilsen|Kristiansen|Jensen|Karlsen|Berg|Haugen|Hagen|Bakken|Solberg|Sæther=saether|Lie|Dahl|Strøm=strom|Ødegård=odegard|Løken=loken|Aasen|Bråten=braten|Mæland=maeland|Fjeld|Nygård=nygard',
    ),
    cities: [
      ['Oslo', 150],
      ['Bergen', 5003],
      ['Trondheim', 7010],
      ['Stavanger', 4005],
      ['Tromsø', 9008],
      ['Ålesund', 6002],
      ['Bodø', 8003],
      ['Fredrikstad', 1606],
      ['Kristiansand', 4608],
      ['Lillehammer', 2609],
    ],
    streets: [
      'Storgata',
      'Kirkegata',
      'Dronningens gate',
      'Bygdøy allé',
      'Søndre gate',
      'Strandveien',
      'Skolegata',
      'Havnegata',
      'Øvre Slottsgate',
    ],
    emailDomains: ['gmail.com', 'online.no', 'hotmail.com', 'outlook.com', 'live.no', 'yahoo.no'],
    tld: 'no',
    postal: (rng, base) => String(base + rng.int(90)).padStart(4, '0'),
    phone: (rng) => `+47 ${rng.pick(['4', '9'])}${rng.digits(2)} ${rng.digits(2)} ${rng.digits(3)}`,
    address: (rng, street) => {
      const base = `${street} ${1 + rng.int(120)}`;
      const extra = rng.next();
      return extra < 0.15 ? `${base}, H0${1 + rng.int(4)}0${1 + rng.int(6)}` : extra < 0.22 ? `${base}, ${2 + rng.int(6)}. etg` : base;
    },
    companyWords: ['Nordlys', 'Fjellstad', 'Havbruk', 'Fjordkraft', 'Vestland', 'Polar', 'Bølgen', 'Tinde', 'Skog', 'Kyst'],
    companySuffix: 'AS',
  },
  {
    name: 'Netherlands',
    language: 'nl',
    weight: 25,
    female: names('Sanne|Femke|Lotte|Anouk|Eline|Marieke|Noor|Zoë=zoe|Chloë=chloe|Fleur|Iris|Maud|Esmée=esmee|Ilse|Roos|Anne|Julia|Lieke'),
    male: names('Jan|Pieter|Daan|Bram|Joris|Maarten|Sem|Ruud|Thijs|Geert|Sjoerd|Jeroen|Wouter|Niels|Bas|Joost|Teun|Gijs'),
    last: names(
      "de Jong=dejong|Jansen|de Vries=devries|van den Berg=vandenberg|van der Berg=vanderberg|Bakker|Visser|Smit|Meijer|de Boer=deboer|Mulder|de Groot=degroot|Bos|Vos|Peters|Hendriks|van Dijk=vandijk|van der Meer=vandermeer|'t Hart=thart|Dekker|Brouwer|van Leeuwen=vanleeuwen|Kuipers|Ruiters",
    ),
    cities: [
      ['Amsterdam', 1011],
      ['Rotterdam', 3011],
      ['Utrecht', 3511],
      ['Den Haag', 2511],
      ['Eindhoven', 5611],
      ['Groningen', 9711],
      ["'s-Hertogenbosch", 5211],
      ['Haarlem', 2011],
      ['Leiden', 2311],
      ['Maastricht', 6211],
    ],
    streets: [
      'Keizersgracht',
      'Dorpsstraat',
      'Kerkstraat',
      'Oudegracht',
      'Stationsweg',
      'Molenstraat',
      'Herengracht',
      'Prinsengracht',
      'Schoolstraat',
    ],
    emailDomains: ['gmail.com', 'ziggo.nl', 'kpnmail.nl', 'hotmail.nl', 'outlook.com', 'xs4all.nl'],
    tld: 'nl',
    postal: (rng, base) => `${base + rng.int(80)} ${String.fromCharCode(65 + rng.int(26), 65 + rng.int(26))}`,
    phone: (rng) => `+31 6 ${rng.digits(4)} ${rng.digits(4)}`,
    address: (rng, street) => {
      const base = `${street} ${1 + rng.int(300)}`;
      const extra = rng.next();
      return extra < 0.12
        ? `${base}-${rng.pick(['I', 'II', 'III', 'hs'])}`
        : extra < 0.16
          ? `${base}, Woonboot "${rng.pick(['De Zwaan', 'Vrijheid', 'Aquarius'])}"`
          : base;
    },
    companyWords: ['Van der Berg', 'De Vries', 'Oranje', 'Polder', 'Dijkstra', 'Zuidas', 'Tulp', 'Molen', 'Gracht', 'Noordzee'],
    companySuffix: 'B.V.',
  },
  {
    name: 'Denmark',
    language: 'da',
    weight: 25,
    female: names(
      'Mette|Anne|Freja|Line|Sofie|Birgitte|Louise|Sørine=sorine|Ida|Karen|Signe|Maja|Astrid|Lærke=laerke|Rikke|Camilla|Tove|Ellen',
    ),
    male: names(
      'Søren=soren|Jens|Rasmus|Mads|Kasper|Morten|Asger|Åge=age|Jesper|Thøger=thoger|Niels|Anders|Frederik|Mikkel|Emil|Bo|Christian|Henrik',
    ),
    last: names(
      'Nielsen|Jensen|Hansen|Pedersen|Andersen|Christensen|Larsen|Sørensen=sorensen|Rasmussen|Jørgensen=jorgensen|Petersen|Madsen|Kristensen|Olsen|Thomsen|Poulsen|Møller=moller|Mørch=morch|Kjær=kjaer|Lund|Østergaard=ostergaard|Bækgaard=baekgaard|Holm|Dalsgaard',
    ),
    cities: [
      ['København K', 1050],
      ['Aarhus C', 8000],
      ['Odense C', 5000],
      ['Aalborg', 9000],
      ['Esbjerg', 6700],
      ['Næstved', 4700],
      ['Helsingør', 3000],
      ['Roskilde', 4000],
      ['Vejle', 7100],
      ['Århus N', 8200],
    ],
    streets: [
      'Vesterbrogade',
      'Nørrebrogade',
      'Østergade',
      'Algade',
      'Strøget',
      'Jernbanegade',
      'Søndergade',
      'Kongensgade',
      'Åboulevarden',
    ],
    emailDomains: ['gmail.com', 'hotmail.com', 'live.dk', 'yahoo.dk', 'outlook.dk', 'mail.dk'],
    tld: 'dk',
    postal: (rng, base) => String(base + rng.int(50)),
    phone: (rng) => `+45 ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)}`,
    address: (rng, street) => {
      const base = `${street} ${1 + rng.int(150)}`;
      return rng.chance(0.3) ? `${base}, ${1 + rng.int(5)}. ${rng.pick(['tv', 'th', 'mf'])}` : base;
    },
    companyWords: ['Østergaard', 'Nordisk', 'Møller & Søn', 'Dansk', 'Bølge', 'Havn', 'Lyngby', 'Kronborg', 'Fyn', 'Skagen'],
    companySuffix: 'A/S',
  },
  {
    name: 'United Kingdom',
    language: 'en',
    weight: 15,
    female: names('Charlotte|Emily|Amelia|Sophie|Olivia|Chloe|Siobhan|Niamh|Isla|Grace|Hannah|Lucy|Ava|Freya|Poppy|Ruby|Sarah|Jessica'),
    male: names('James|Oliver|Harry|George|Jack|Thomas|Seán=sean|William|Alfie|Charlie|Oscar|Henry|Archie|Leo|Daniel|Samuel|Rhys|Callum'),
    last: names(
      "Smith|Jones|Williams|Taylor|Brown|Davies|Evans|Wilson|Thomas|Johnson|O'Brien=obrien|O'Connor=oconnor|Roberts|Walker|Wright|Smith-Jones=smithjones|Robinson|Thompson|Hughes|Edwards|Green|Hall",
    ),
    cities: [
      ['London', 1],
      ['Manchester', 1],
      ['Leeds', 1],
      ['Bristol', 1],
      ['Edinburgh', 1],
      ['Cardiff', 10],
      ['Birmingham', 1],
      ['Glasgow', 1],
    ],
    streets: ['High Street', 'Station Road', 'Church Lane', 'Victoria Road', 'Green Lane', 'Mill Lane', 'Park Road', 'King Street'],
    emailDomains: ['gmail.com', 'btinternet.com', 'hotmail.co.uk', 'outlook.com', 'yahoo.co.uk', 'sky.com'],
    tld: 'co.uk',
    postal: (rng) =>
      `${rng.pick(['SW1A', 'M1', 'LS1', 'BS1', 'EH1', 'CF10', 'B1', 'G1', 'N1', 'E14'])} ${1 + rng.int(9)}${String.fromCharCode(65 + rng.int(26), 65 + rng.int(26))}`,
    phone: (rng) => `+44 7${rng.digits(3)} ${rng.digits(6)}`,
    address: (rng, street) => {
      const base = `${1 + rng.int(200)} ${street}`;
      const extra = rng.next();
      return extra < 0.12
        ? `Flat ${1 + rng.int(20)}, ${base}`
        : extra < 0.15
          ? `"${rng.pick(['Rose Cottage', 'The Old Rectory', 'Ivy House'])}", ${base}`
          : base;
    },
    companyWords: ['Thames', 'Albion', 'Wessex', 'Northern', 'Crown', 'Pennine', 'Harbour', 'Oakwood', 'Severn', 'Highland'],
    companySuffix: 'Ltd',
  },
];
const COUNTRY_WEIGHT_TOTAL = COUNTRIES.reduce((sum, country) => sum + country.weight, 0);

function pickCountry(rng: Rng): Country {
  let ticket = rng.next() * COUNTRY_WEIGHT_TOTAL;
  for (const country of COUNTRIES) {
    ticket -= country.weight;
    if (ticket < 0) return country;
  }
  return COUNTRIES[0]!;
}

const LOYALTY_TIERS = ['None', 'Bronze', 'Silver', 'Gold', 'Platinum'] as const;
const LOYALTY_WEIGHTS = [0.45, 0.25, 0.17, 0.1, 0.03];
const INDUSTRIES = [
  'Retail',
  'Manufacturing',
  'Financial services',
  'Energy',
  'Healthcare',
  'Software',
  'Logistics',
  'Seafood',
  'Media, publishing & events',
  'Public sector',
];
const SENIOR_TITLES = [
  'CEO',
  'CFO',
  'CTO',
  'Chief Marketing Officer',
  'Director, Sales',
  'Director of Operations',
  'Head of Marketing',
  'Head of Procurement',
  'VP, Engineering',
  'Managing Director',
];
const OTHER_TITLES = [
  'Marketing Manager',
  'Account Manager',
  'Software Engineer',
  'Sales Representative',
  'Buyer',
  'Controller',
  'HR Advisor',
  'Customer Success Manager',
  'Analyst',
  'Office Manager',
  'Project Manager',
  'Consultant, "Digital"',
];
const DEPARTMENTS = ['Sales', 'Marketing', 'Finance', 'IT', 'Operations', 'Procurement', 'HR', 'Management'];

/** Fixed "now" of the generated world, so a seed always yields the same dates. */
const REFERENCE_MS = Date.UTC(2025, 5, 30);
const DAY_MS = 86_400_000;
const CREATED_FROM_MS = Date.UTC(2015, 0, 1);

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/** YYYY-MM-DD of a UTC instant; by hand because Date#toISOString dominated row generation. */
function isoDate(ms: number): string {
  // Civil-from-days (H. Hinnant), valid for the proleptic Gregorian calendar.
  const z = Math.floor(ms / DAY_MS) + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${PAD2[month]}-${PAD2[day]}`;
}

/** YYYY-MM-DDThh:mm:ssZ of a UTC instant. */
function isoSeconds(ms: number): string {
  const seconds = Math.floor((ms % DAY_MS) / 1000);
  return `${isoDate(ms)}T${PAD2[Math.floor(seconds / 3600)]}:${PAD2[Math.floor(seconds / 60) % 60]}:${PAD2[seconds % 60]}Z`;
}

interface Person {
  first: Name;
  last: Name;
  gender: string;
}

function person(rng: Rng, country: Country): Person {
  // A minority of people carry names from another of the four cultures, as real lists do.
  const source = rng.chance(0.1) ? rng.pick(COUNTRIES) : country;
  const roll = rng.next();
  const female = roll < 0.5;
  return {
    first: rng.pick(female ? source.female : source.male),
    last: rng.pick(source.last),
    gender: roll < 0.485 ? 'Female' : roll < 0.5 ? '' : roll < 0.985 ? 'Male' : '',
  };
}

function email(context: Context, rng: Rng, who: Person, index: number, domain: string): string {
  // The index in the local part makes every valid email unique; names never end in a digit.
  const address = `${who.first[1]}.${who.last[1]}${index}@${domain}`;
  const roll = rng.next();
  if (roll < context.invalidEmailRate) return rng.chance(0.5) ? '' : address.replace('@', rng.chance(0.5) ? '' : ' at ');
  const messy = (roll - context.invalidEmailRate) / (1 - context.invalidEmailRate || 1);
  if (messy < context.messyEmailRate * 0.6)
    return capitalise(who.first[1]) + '.' + capitalise(who.last[1]) + `${index}@` + capitalise(domain);
  if (messy < context.messyEmailRate) return rng.chance(0.5) ? ` ${address} ` : `${address} `;
  return address;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ---------------------------------------------------------------------------------------------
// Rows

function profileRow(context: Context, index: number): GeneratedRow {
  const rng = context.rng.reset(context.seed, STREAM.profile, index);
  const id = rng.guid();
  const country = pickCountry(rng);
  const who = person(rng, country);
  const [city, postalBase] = rng.pick(country.cities);
  const createdMs = CREATED_FROM_MS + rng.int(REFERENCE_MS - CREATED_FROM_MS - DAY_MS);
  const birthMs = REFERENCE_MS - (18 * 365 + rng.int(62 * 365)) * DAY_MS;
  let tierRoll = rng.next();
  let tier = 0;
  while (tier < LOYALTY_WEIGHTS.length - 1 && tierRoll >= LOYALTY_WEIGHTS[tier]!) tierRoll -= LOYALTY_WEIGHTS[tier++]!;
  const optIn = rng.chance(0.45);
  const neverBought = rng.chance(0.08);
  // Spend grows with the tier; VIPs (>= 5,000) are mostly Gold and Platinum members.
  const spend = neverBought ? 0 : Math.round((20 + rng.next() * rng.next() * 2_500 * (1 + tier * tier * 0.9)) * 100) / 100;
  // Most buyers bought recently (roughly exponential, mean 200 days): about one in six is lapsed.
  const daysAgo = Math.min(Math.floor(-Math.log(1 - rng.next()) * 200), Math.floor((REFERENCE_MS - createdMs) / DAY_MS));
  const lastPurchaseMs = neverBought ? undefined : REFERENCE_MS - daysAgo * DAY_MS;
  const street = rng.pick(country.streets);
  const values = [
    id,
    who.first[0],
    who.last[0],
    `${who.first[0]} ${who.last[0]}`,
    email(context, rng, who, index, rng.pick(country.emailDomains)),
    who.gender,
    isoDate(birthMs),
    country.address(rng, street),
    country.postal(rng, postalBase),
    city,
    country.name,
    country.phone(rng),
    rng.chance(0.9) ? country.language : 'en',
    LOYALTY_TIERS[tier]!,
    optIn ? 'true' : 'false',
    spend.toFixed(2),
    lastPurchaseMs === undefined ? '' : isoDate(lastPurchaseMs),
    isoSeconds(createdMs),
  ];
  let memberOf = 1; // All customers
  if (tier >= 2) memberOf |= 1 << 1;
  if (optIn && country.name === 'Norway') memberOf |= 1 << 2;
  if (lastPurchaseMs !== undefined && lastPurchaseMs < REFERENCE_MS - 365 * DAY_MS) memberOf |= 1 << 3;
  if (spend >= 5_000) memberOf |= 1 << 4;
  return { values, memberOf };
}

interface AccountFacts {
  id: string;
  name: string;
  domain: string;
  country: Country;
  city: string;
  postal: string;
  address: string;
  phone: string;
  employees: number;
  industry: string;
  createdMs: number;
}

function account(context: Context, rng: Rng, index: number): AccountFacts {
  rng.reset(context.seed, STREAM.account, index);
  const id = rng.guid();
  const country = pickCountry(rng);
  const word = rng.pick(country.companyWords);
  const trade = rng.pick(['Consulting', 'Logistics', 'Analytics', 'Energy', 'Foods', 'Bygg', 'Media', 'Systems', 'Trading', 'Partners']);
  const style = rng.next();
  // A few names carry quotes, many already carry commas: the CSV has to quote them.
  const name =
    style < 0.04
      ? `${trade} "${word}" ${country.companySuffix}`
      : style < 0.1
        ? `${rng.pick(country.last)[0]}, ${rng.pick(country.last)[0]} & ${rng.pick(['Co', 'Partners'])} ${country.companySuffix}`
        : `${word} ${trade} ${country.companySuffix}`;
  const slug = slugOf(`${word}${trade}`);
  const [city, postalBase] = rng.pick(country.cities);
  const sizeRoll = rng.next();
  const employees =
    sizeRoll < 0.5
      ? 1 + rng.int(49)
      : sizeRoll < 0.8
        ? 50 + rng.int(200)
        : sizeRoll < 0.88
          ? 250 + rng.int(750)
          : 1_000 + rng.int(rng.chance(0.2) ? 60_000 : 9_000);
  return {
    id,
    name,
    domain: `${slug}${index.toString(36)}.${country.tld}`,
    country,
    city,
    postal: country.postal(rng, postalBase),
    address: country.address(rng, rng.pick(country.streets)),
    phone: country.phone(rng),
    employees,
    industry: rng.pick(INDUSTRIES),
    createdMs: CREATED_FROM_MS + rng.int(REFERENCE_MS - CREATED_FROM_MS - DAY_MS),
  };
}

const slugs = new Map<string, string>();
/** Domain label of a company name; cached because contacts regenerate their account per row. */
function slugOf(text: string): string {
  let slug = slugs.get(text);
  if (slug === undefined) {
    slug = text
      .toLowerCase()
      .replace(/ø/g, 'o')
      .replace(/æ/g, 'ae')
      .normalize('NFD')
      .replace(/[^a-z]+/g, '');
    slugs.set(text, slug);
  }
  return slug;
}

function accountRow(context: Context, index: number): GeneratedRow {
  const rng = context.rng;
  const facts = account(context, rng, index);
  const revenue = facts.employees * (60_000 + rng.int(240_000));
  const values = [
    facts.id,
    facts.name,
    facts.domain,
    facts.industry,
    String(facts.employees),
    revenue.toFixed(2),
    facts.address,
    facts.postal,
    facts.city,
    facts.country.name,
    facts.phone,
    `https://www.${facts.domain}`,
    isoSeconds(facts.createdMs),
  ];
  let memberOf = 0;
  if (facts.employees >= 1_000) memberOf |= 1;
  if (facts.country.name === 'Norway' || facts.country.name === 'Denmark') memberOf |= 1 << 1;
  return { values, memberOf };
}

function contactRow(context: Context, index: number, accounts: number): GeneratedRow {
  const rng = context.rng.reset(context.seed, STREAM.contact, index);
  const id = rng.guid();
  const company = account(context, context.accountRng, rng.int(accounts));
  const country = rng.chance(0.9) ? company.country : pickCountry(rng);
  const who = person(rng, country);
  const senior = rng.chance(0.22);
  const title = rng.pick(senior ? SENIOR_TITLES : OTHER_TITLES);
  const optIn = rng.chance(0.55);
  const values = [
    id,
    company.id,
    who.first[0],
    who.last[0],
    `${who.first[0]} ${who.last[0]}`,
    email(context, rng, who, index, company.domain),
    title,
    senior ? 'Management' : rng.pick(DEPARTMENTS),
    who.gender,
    country.phone(rng),
    company.postal,
    company.city,
    company.country.name,
    rng.chance(0.85) ? country.language : 'en',
    optIn ? 'true' : 'false',
    isoSeconds(Math.max(company.createdMs, CREATED_FROM_MS + rng.int(REFERENCE_MS - CREATED_FROM_MS - DAY_MS))),
  ];
  let memberOf = 1; // All customers
  if (senior) memberOf |= 1 << 1;
  if (optIn) memberOf |= 1 << 2;
  return { values, memberOf };
}
