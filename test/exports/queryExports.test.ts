import { describe, expect, it } from 'vitest';
import { queryExports, listExportsQuery } from '../../shared/exports/queryExports.js';
import type { ExportView } from '../../shared/exports/exportDefinition.js';

const view = (id: string, name: string, connectionName: string, connectionType: string, lastRefreshed: string | null = null): ExportView =>
  ({ id, name, connectionName, connectionType, lastRefreshed, schedule: { active: true, mode: 'systemRefresh' } }) as ExportView;

const views = [
  view('1', 'Weekly newsletter', 'CM prod', 'campaign-monitor', '2026-01-02'),
  view('2', 'alpha', 'Iterable EU', 'iterable'),
  view('3', 'Beta', 'CM test', 'campaign-monitor', '2026-01-01'),
];

describe('export list query', () => {
  it('searches name, connection name and type, case-insensitively', () => {
    expect(queryExports(views, listExportsQuery.parse({ search: 'cm' })).items.map((v) => v.id)).toEqual(['3', '1']);
    expect(queryExports(views, listExportsQuery.parse({ search: 'ITERABLE' })).items.map((v) => v.id)).toEqual(['2']);
  });
  it('sorts by a column in either order', () => {
    expect(queryExports(views, listExportsQuery.parse({ sort: 'name' })).items.map((v) => v.id)).toEqual(['2', '3', '1']);
    expect(queryExports(views, listExportsQuery.parse({ sort: 'lastRefreshed', order: 'desc' })).items.map((v) => v.id)).toEqual([
      '1',
      '3',
      '2',
    ]);
  });
  it("sorts by your permissions (the console's last column)", () => {
    const mixed = views.map((v, index) => ({ ...v, yourPermissions: index === 1 ? 'view' : 'edit' }) as ExportView);
    expect(queryExports(mixed, listExportsQuery.parse({ sort: 'yourPermissions', order: 'desc' })).items.map((v) => v.id)).toEqual([
      '2',
      '1',
      '3',
    ]);
  });
  it('pages with a continuation token', () => {
    const first = queryExports(views, listExportsQuery.parse({ top: '2' }));
    expect(first.items).toHaveLength(2);
    const second = queryExports(views, listExportsQuery.parse({ top: '2', continuationToken: first.continuationToken }));
    expect(second.items.map((v) => v.id)).toEqual(['1']);
    expect(second.continuationToken).toBeUndefined();
  });
  it('refuses a continuation token it did not give out, as the other lists do', () => {
    for (const token of ['abc', 'LTE', Buffer.from('1.5').toString('base64url'), Buffer.from('01').toString('base64url'), 'MQ==']) {
      const result = listExportsQuery.safeParse({ continuationToken: token });
      expect(result.success, token).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(['continuationToken']);
    }
    expect(listExportsQuery.safeParse({ continuationToken: Buffer.from('100').toString('base64url') }).success).toBe(true);
  });
  it('refuses an unknown sort column', () => {
    expect(listExportsQuery.safeParse({ sort: 'password' }).success).toBe(false);
  });
});
