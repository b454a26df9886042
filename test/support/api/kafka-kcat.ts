// Whether the kcat tests run: where kcat is installed, and always in CI (CI=true), where a
// missing kcat fails them instead of skipping them quietly (.ci/run installs it from Debian).
import { execFileSync } from 'node:child_process';

function probe(): boolean {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** kcat answers `kcat -V` on this machine. */
export const kcatInstalled = probe();

/** Run the kcat tests: kcat is here, or this is CI, which must have it. */
export const kcatTestsRun = kcatInstalled || process.env.CI === 'true';

/** Throws, with the reason, when kcat tests run without kcat (CI without the package). */
export function assertKcatInstalled(): void {
  if (!kcatInstalled) {
    throw new Error('kcat is not installed; CI installs it in .ci/run (apt-get install kcat)');
  }
}
