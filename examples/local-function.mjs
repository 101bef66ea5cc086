// Serves one serverless function over HTTP on 127.0.0.1, as its platform would, so `npm run example` can start a
// fleet of cold ones: each process is one execution environment (a Lambda sandbox, a Vercel or Netlify instance),
// importing the function's module once and calling its handler per request.
//   node local-function.mjs <module> lambda   the module exports `handler(event)` answering { statusCode, body }
//   node local-function.mjs <module> web      the module exports `GET(request)` answering a web Response
// Prints `listening on http://127.0.0.1:<port>` once it takes requests (PORT=0: any free port).
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const [file, kind] = process.argv.slice(2);
const module = await import(pathToFileURL(file).href);

const server = http.createServer(async (req, res) => {
  try {
    if (kind === 'lambda') {
      const { statusCode, body } = await module.handler({ rawPath: req.url, requestContext: {} });
      res.writeHead(statusCode, { 'content-type': 'application/json' }).end(body);
    } else {
      const response = await module.GET(new Request(`http://127.0.0.1${req.url}`));
      res.writeHead(response.status, Object.fromEntries(response.headers)).end(await response.text());
    }
  } catch (error) {
    // What the platform does with an uncaught error: a 500, and the error in the function's log.
    console.error(error);
    res.writeHead(500).end();
  }
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
