/**
 * Request parameters the way pve-http-server and PVE::JSONSchema see them: query and body merged
 * (query wins), bodies form-encoded (CGI-style, repeated keys become arrays) or JSON, then checked against
 * a small per-endpoint schema with PVE's error texts (400 "Parameter verification failed.").
 */
import { MISSING, NOT_IN_SCHEMA, die, paramError } from './pve-error.js';

export type ParamValue = string | string[];
export type Params = Record<string, ParamValue>;

export interface ParamSpec {
  type?: 'string' | 'integer' | 'boolean' | 'array';
  optional?: boolean;
  maxLength?: number;
  pattern?: RegExp;
  enum?: string[];
  /** returns an error text ("invalid format - ...") or undefined */
  format?: (value: string) => string | undefined;
  /** for arrays: per-item format check */
  items?: (value: string) => string | undefined;
}

export type Schema = Record<string, ParamSpec>;

/** decode_urlencoded: split on & and ;, '+' is space, %XX bytes, only the text before a second '=' counts */
export function decodeUrlencoded(data: string): Params {
  const out: Params = {};
  if (!data) return out;
  for (const kv of data.split(/[&;]/)) {
    if (kv === '') continue;
    const [rawK = '', rawV] = kv.split('=');
    const k = decodeComponent(rawK);
    if (rawV === undefined) continue;
    const v = decodeComponent(rawV);
    const old = out[k];
    out[k] = old === undefined ? v : Array.isArray(old) ? [...old, v] : [old, v];
  }
  return out;
}

function decodeComponent(s: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s.replace(/\+/g, ' '), 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    const hex = raw.subarray(i + 1, i + 3).toString('latin1');
    if (b === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Body + query into one parameter hash, as extract_params does. */
export function extractParams(method: string, contentType: string | undefined, body: string, query: string): Params {
  let params: Params = {};
  if (method === 'PUT' || method === 'POST') {
    const ct = (contentType ?? '').split(/\s*[;,]\s*/)[0];
    if (ct === 'application/json') {
      let parsed: unknown;
      try {
        parsed = body === '' ? {} : JSON.parse(body);
      } catch (e) {
        throw die(`malformed JSON string: ${(e as Error).message}`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw die('JSON body is not an object');
      for (const [k, v] of Object.entries(parsed)) {
        if (v === null || v === undefined) continue;
        params[k] = Array.isArray(v) ? v.map(jsonScalar) : jsonScalar(v);
      }
    } else {
      params = decodeUrlencoded(body);
    }
  }
  for (const [k, v] of Object.entries(decodeUrlencoded(query))) params[k] = v;
  delete params._dc;
  return params;
}

function jsonScalar(v: unknown): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Validates and normalizes: arrays where the schema wants a string list are joined with ',' and single
 * values become arrays where an array is expected (PVE's legacy form handling).
 */
export function validate(params: Params, schema: Schema, extra?: (key: string) => ParamSpec | undefined): Params {
  const errors: Record<string, string> = {};
  const out: Params = {};
  for (const [key, value] of Object.entries(params)) {
    const spec = schema[key] ?? extra?.(key);
    if (!spec) {
      errors[key] = NOT_IN_SCHEMA;
      continue;
    }
    if (spec.type === 'array') {
      const list = Array.isArray(value) ? value : [value];
      for (const item of list) {
        const err = spec.items?.(item);
        if (err) errors[key] = err;
      }
      out[key] = list;
      continue;
    }
    const v = Array.isArray(value) ? value.join(',') : value;
    const err = checkScalar(v, spec);
    if (err) errors[key] = err;
    out[key] = v;
  }
  for (const [key, spec] of Object.entries(schema)) {
    if (!spec.optional && params[key] === undefined) errors[key] = MISSING;
  }
  if (Object.keys(errors).length > 0) throw paramError(errors);
  return out;
}

function checkScalar(v: string, spec: ParamSpec): string | undefined {
  if (spec.type === 'integer' && !/^-?\d+$/.test(v)) return `type check ('integer') failed - got '${v}'`;
  if (spec.type === 'boolean' && !/^(1|0|on|off|yes|no|true|false)$/i.test(v)) {
    return `type check ('boolean') failed - got '${v}'`;
  }
  if (spec.enum && !spec.enum.includes(v)) {
    return `value '${v}' does not have a value in the enumeration '${spec.enum.join(', ')}'`;
  }
  if (spec.maxLength !== undefined && v.length > spec.maxLength) return `value may only be ${spec.maxLength} characters long`;
  if (spec.pattern && !spec.pattern.test(v)) return 'value does not match the regex pattern';
  return spec.format?.(v);
}

export function str(params: Params, key: string): string | undefined {
  const v = params[key];
  return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : v;
}

export const NODE_SPEC: ParamSpec = { pattern: /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/ };
export const VMID_SPEC: ParamSpec = {
  format: (v) => (/^[1-9]\d{2,8}$/.test(v) ? undefined : 'invalid format - value does not look like a valid VM ID\n'),
};
export const CONFIG_ID_SPEC: ParamSpec = {
  format: (v) => (/^[a-z][a-z0-9_-]+$/i.test(v) ? undefined : `invalid format - invalid configuration ID '${v}'\n`),
};
