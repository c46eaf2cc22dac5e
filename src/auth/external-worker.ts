// Worker thread of SyncExternalAsker: asks the external authoriser and wakes the waiting
// thread through a shared Int32Array (1 = allowed, 2 = refused).
import { parentPort, workerData } from 'node:worker_threads';
import type { ExternalAuthConfig } from './access-config';
import { askExternal, type ExternalQuestion } from './external-authorizer';

const config = workerData as ExternalAuthConfig;
parentPort?.on('message', (message: { question: ExternalQuestion; answer: Int32Array }) => {
  void askExternal(config, message.question).then((allowed) => {
    Atomics.store(message.answer, 0, allowed ? 1 : 2);
    Atomics.notify(message.answer, 0);
  });
});
