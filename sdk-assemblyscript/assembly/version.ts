// ABI versions: the one this SDK was built against and the one the VM serves.

import { version_abi_version, SemverLayout, ABI_MAJOR, ABI_MINOR, ABI_PATCH } from "./abi";

/** A semantic version. */
export class Version {
  constructor(public readonly major: u32, public readonly minor: u32, public readonly patch: u32) {}

  /** "MAJOR.MINOR.PATCH". */
  toString(): string {
    return this.major.toString() + "." + this.minor.toString() + "." + this.patch.toString();
  }

  /** Whether a VM serving this version runs a guest built for `needed`:
   * the same major and at least its minor (minor versions only add). */
  serves(needed: Version): bool {
    return this.major == needed.major && this.minor >= needed.minor;
  }
}

const SEMVER: usize = memory.data(SemverLayout.RECORD_SIZE as i32, SemverLayout.RECORD_ALIGN as i32);

/** The ABI version the VM serves (the newest minor of its major). */
export function abiVersion(): Version {
  version_abi_version(SEMVER);
  return new Version(load<u32>(SEMVER + SemverLayout.MAJOR), load<u32>(SEMVER + SemverLayout.MINOR), load<u32>(SEMVER + SemverLayout.PATCH));
}

/** The ABI version this SDK was generated from. */
export function sdkAbiVersion(): Version {
  return new Version(ABI_MAJOR, ABI_MINOR, ABI_PATCH);
}
