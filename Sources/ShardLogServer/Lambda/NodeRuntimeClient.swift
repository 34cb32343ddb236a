/// The Node.js runtime interface client ShardLog ships for `nodejs18.x`–`nodejs22.x` (none can be installed from the
/// registries here). It speaks the Lambda Runtime API (`/next`, `/response`, `/error`, `/init/error`), loads `_HANDLER`
/// (`file.export`, `.js`/`.cjs` through `require`, `.mjs` or an ES module through `import()`), and runs async handlers,
/// handlers that return a value and callback handlers (`(event, context, callback)`). `console` lines are prefixed
/// with the time, request id and level, as in Lambda.
enum NodeRuntimeClient {
    /// The file name under `<data>/functions/.runtime/`.
    static let fileName = "shardlog-node-runtime.js"

    /// The client's source.
    static let source = #"""
        'use strict';
        // ShardLog's Node.js runtime interface client: the Lambda Runtime API loop for nodejs*.x functions.
        const http = require('http');
        const fs = require('fs');
        const path = require('path');
        const url = require('url');
        const util = require('util');

        const [host, port] = (process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001').split(':');
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        let currentRequestId;

        for (const [method, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'], ['debug', 'DEBUG']]) {
          const write = (method === 'warn' || method === 'error') ? process.stderr : process.stdout;
          console[method] = (...args) => {
            write.write(`${new Date().toISOString()}\t${currentRequestId || 'undefined'}\t${level}\t${util.format(...args)}\n`);
          };
        }

        function call(method, route, body, headers) {
          return new Promise((resolve, reject) => {
            const request = http.request({
              host, port: Number(port), method, agent, path: '/2018-06-01/runtime' + route,
              headers: Object.assign({ 'Content-Type': 'application/json' }, headers || {}),
            }, (response) => {
              const chunks = [];
              response.on('data', (chunk) => chunks.push(chunk));
              response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
            });
            request.on('error', reject);
            if (body !== undefined) request.write(body);
            request.end();
          });
        }

        function errorBody(error) {
          const e = (error instanceof Error) ? error : new Error(typeof error === 'string' ? error : util.inspect(error));
          const stack = String(e.stack || '').split('\n').slice(1).map((line) => line.trim()).filter(Boolean);
          return { errorType: e.name || 'Error', errorMessage: e.message, stackTrace: stack };
        }

        async function loadHandler() {
          const spec = process.env._HANDLER || '';
          const dot = spec.lastIndexOf('.');
          if (dot <= 0) throw Object.assign(new Error(`Bad handler ${spec}`), { name: 'Runtime.MalformedHandlerName' });
          const file = spec.slice(0, dot);
          const exportPath = spec.slice(dot + 1);
          const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
          const base = path.resolve(root, file);
          let module;
          const candidates = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).filter((p) => fs.existsSync(p));
          if (candidates.length === 0) {
            throw Object.assign(new Error(`Error: Cannot find module '${file}'`), { name: 'Runtime.ImportModuleError' });
          }
          const chosen = candidates[0];
          try {
            if (chosen.endsWith('.mjs')) {
              module = await import(url.pathToFileURL(chosen).href);
            } else {
              try {
                module = require(chosen);
              } catch (e) {
                if (e && e.code === 'ERR_REQUIRE_ESM') module = await import(url.pathToFileURL(chosen).href);
                else throw e;
              }
            }
          } catch (e) {
            throw Object.assign(new Error(`${e && e.name || 'Error'}: ${e && e.message}`), { name: 'Runtime.ImportModuleError', stack: e && e.stack });
          }
          const handler = exportPath.split('.').reduce((o, key) => (o == null ? undefined : o[key]), module);
          if (typeof handler !== 'function') {
            throw Object.assign(new Error(`${file}.${exportPath} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
          }
          return handler;
        }

        function run(handler, event, context) {
          return new Promise((resolve, reject) => {
            const callback = (error, value) => (error !== undefined && error !== null) ? reject(error) : resolve(value);
            context.done = callback;
            context.succeed = (value) => resolve(value);
            context.fail = (error) => reject(error);
            let result;
            try {
              result = handler(event, context, callback);
            } catch (e) {
              reject(e);
              return;
            }
            if (result && typeof result.then === 'function') result.then(resolve, reject);
            else if (handler.length < 3) resolve(result);
          });
        }

        async function main() {
          let handler;
          try {
            handler = await loadHandler();
          } catch (e) {
            const body = errorBody(e);
            console.error(`Init Error: ${JSON.stringify(body)}`);
            await call('POST', '/init/error', JSON.stringify(body), { 'Lambda-Runtime-Function-Error-Type': body.errorType });
            process.exit(1);
          }
          for (;;) {
            const next = await call('GET', '/invocation/next');
            const id = next.headers['lambda-runtime-aws-request-id'];
            const deadline = Number(next.headers['lambda-runtime-deadline-ms'] || Date.now() + 3000);
            currentRequestId = id;
            const context = {
              awsRequestId: id,
              invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
              functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
              functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
              memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
              logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
              logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
              callbackWaitsForEmptyEventLoop: true,
              getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
            };
            let event;
            try { event = JSON.parse(next.body); } catch (e) { event = next.body; }
            try {
              const result = await run(handler, event, context);
              await call('POST', `/invocation/${id}/response`, result === undefined ? 'null' : JSON.stringify(result));
            } catch (e) {
              const body = errorBody(e);
              console.error(`Invoke Error \t${JSON.stringify(body)}`);
              await call('POST', `/invocation/${id}/error`, JSON.stringify(body), { 'Lambda-Runtime-Function-Error-Type': body.errorType });
            }
            currentRequestId = undefined;
          }
        }

        main().catch((e) => {
          process.stderr.write(`shardlog node runtime: ${e && e.stack || e}\n`);
          process.exit(1);
        });
        """#
}
