import path from 'node:path';
import { ConfigError, loadConfig, loadDotEnv } from '../src/config';

/** `npm start` runs this first, so that a bad configuration is reported at once, not after the build. */
loadDotEnv(path.resolve('.env'));
try {
  loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
