// Worker thread of the parallel gzip writer: compresses blocks it is sent, in any order.
import { parentPort } from 'node:worker_threads';
import { deflateBlock, deflateWhole } from './deflate-block.mjs';

parentPort.on('message', (job) => {
  try {
    const output =
      job.engine === 'libdeflate'
        ? deflateWhole(job.input, job.level)
        : deflateBlock(job.input, job.dictionary, job.last, job.level);
    parentPort.postMessage({ id: job.id, output }, [output.buffer]);
  } catch (error) {
    parentPort.postMessage({ id: job.id, error: String(error) });
  }
});
