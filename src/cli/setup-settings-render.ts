/**
 * The settings file install.sh writes: templates/settings.ini (every key commented with its default)
 * with the [api] block filled in and the controller count set, under a header line. Line by line as
 * install.sh's sed did, so the same inputs give the same bytes: `;[api]` alone on its line is
 * uncommented, a line starting `;url = `, `;token_id = `, `;secret_file = ` or `;ca_file = ` is
 * replaced whole, and so is each line starting `controllers = `. Pure.
 */
import { SetupError } from '../errors.js';

export const SETTINGS_HEADER = '; written by pve-usb-gadget install.sh; edit freely: install.sh only rewrites it while unchanged\n';

export interface ApiSettings {
  url: string;
  tokenId: string;
  secretFile: string;
  caFile: string;
}

export interface SettingsInputs {
  controllers: number;
  /** undefined: no [api] section (install.sh --no-api) */
  api?: ApiSettings;
}

/** `template` is the text of templates/settings.ini; `templateName` is only for messages. */
export function renderSettings(template: string, inputs: SettingsInputs, templateName = 'templates/settings.ini'): string {
  const { api, controllers } = inputs;
  const fills: [string, string][] = api
    ? [
        [';url = ', `url = ${api.url}`],
        [';token_id = ', `token_id = ${api.tokenId}`],
        [';secret_file = ', `secret_file = ${api.secretFile}`],
        [';ca_file = ', `ca_file = ${api.caFile}`],
      ]
    : [];
  fills.push(['controllers = ', `controllers = ${controllers}`]);
  const body = template
    .split('\n')
    .map((line) => (api && line === ';[api]' ? '[api]' : (fills.find(([prefix]) => line.startsWith(prefix))?.[1] ?? line)))
    .join('\n');
  const text = `${SETTINGS_HEADER}${body}`;
  // a template without the lines to fill in would give a file that silently ignores the options
  const lines = text.split('\n');
  if (!lines.includes(`controllers = ${controllers}`)) {
    throw new SetupError(`${templateName} has no 'controllers =' line`, { key: 'modules.controllers', path: templateName, fix: 'use the templates/ of the same release as install.sh' });
  }
  if (api && !(lines.includes(`token_id = ${api.tokenId}`) && lines.includes('[api]'))) {
    throw new SetupError(`${templateName} has no ';[api]' block to fill in`, { key: 'api', path: templateName, fix: 'use the templates/ of the same release as install.sh' });
  }
  return text;
}
