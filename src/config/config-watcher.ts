// Tells when the config file has changed on disk, to read it again. Editors and config management replace a file (write a temporary one, rename it over), which
// ends a watch on the file itself: the folder is watched, for the file's name. A burst of
// changes (truncate, write, rename) is one reload.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** Changes closer together than this are one reload. */
const SETTLE_MS = 200;

export class ConfigWatcher {
  readonly #watcher: FSWatcher;
  #timer: NodeJS.Timeout | undefined;
  readonly #reload: (cause: string) => void;

  /** `reload` runs on Node's thread, once per settled change. */
  constructor(path: string, reload: (cause: string) => void) {
    this.#reload = reload;
    const file = basename(path);
    this.#watcher = watch(dirname(resolve(path)), (_event, name) => {
      if (name === file) this.#settle();
    });
  }

  #settle(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#reload('file changed');
    }, SETTLE_MS);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher.close();
  }
}
