import { describe, expect, it } from 'vitest';
import { QUIRKS_MAX, withIgnore, withoutIgnore } from '../../src/host/quirks.js';

describe('usb_storage quirk list editing', () => {
  it('appends our ignore entry and keeps everyone else', () => {
    expect(withIgnore('', '0781:5571')).toBe('0781:5571:i');
    expect(withIgnore('0bda:0129:u\n', '0781:5571')).toBe('0bda:0129:u,0781:5571:i');
  });

  it('replaces another entry for the same id (ours must win) and never duplicates', () => {
    expect(withIgnore('0781:5571:u,1234:5678:i', '0781:5571')).toBe('1234:5678:i,0781:5571:i');
    expect(withIgnore(withIgnore('', '0781:5571'), '0781:5571')).toBe('0781:5571:i');
  });

  it('removes exactly our entry', () => {
    expect(withoutIgnore('0bda:0129:u,0781:5571:i,1234:5678:i', '0781:5571')).toBe('0bda:0129:u,1234:5678:i');
    expect(withoutIgnore('0781:5571:u', '0781:5571')).toBe('0781:5571:u');
    expect(withoutIgnore('', '0781:5571')).toBe('');
  });

  it('is case-insensitive on ids', () => {
    expect(withoutIgnore('ABCD:EF01:i', 'abcd:ef01')).toBe('');
  });

  it('ten entries fit the kernel buffer, eleven do not', () => {
    let list = '';
    for (let i = 0; i < 10; i++) list = withIgnore(list, `1d6b:${(0x8000 + i).toString(16)}`);
    expect(list.length).toBeLessThanOrEqual(QUIRKS_MAX);
    expect(withIgnore(list, '1d6b:9000').length).toBeGreaterThan(QUIRKS_MAX);
  });
});
