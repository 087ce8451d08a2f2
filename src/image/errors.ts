import { GadgetError } from '../errors.js';

/**
 * `pve-usb-gadget image ...` could not do what was asked: size too small, path not writable, zip is not
 * an unRAID release, checksum mismatch, target exists. Whatever failed, nothing half-written is left.
 */
export class ImageError extends GadgetError {}
