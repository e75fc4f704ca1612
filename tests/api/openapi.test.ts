import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServer, type TestServer } from "../helpers/server";

let server: TestServer;
let doc: any;
beforeAll(async () => {
  server = await startServer();
  doc = await (await fetch(`${server.url}/openapi.json`)).json();
}, 120_000);
afterAll(() => server.stop());

const ROUTES: [string, string, string][] = [
  ["post", "/api/v1/files/upload", "files.upload"],
  ["get", "/api/v1/files/{fileId}", "files.get"],
  ["get", "/api/v1/files", "files.list"],
  ["delete", "/api/v1/files/{fileId}", "files.delete"],
  ["get", "/media/{fileId}/{filename}", "media.download"],
  ["get", "/health", "health.get"],
  ["get", "/ready", "health.ready"],
];

test("the document lists every route with its operationId and response schemas", () => {
  for (const [method, path, opId] of ROUTES) {
    const op = doc.paths?.[path]?.[method];
    expect(op, `${method} ${path}`).toBeDefined();
    expect(op.operationId).toBe(opId);
    expect(op.responses?.["200"], `${method} ${path} 200`).toBeDefined();
  }
});

test("the API-key scheme is declared and applied; public routes opt out", () => {
  expect(doc.components.securitySchemes.ApiKeyAuth).toEqual({
    type: "apiKey",
    in: "header",
    name: "X-API-KEY",
  });
  expect(doc.security).toEqual([{ ApiKeyAuth: [] }]);
  expect(doc.paths["/health"].get.security).toEqual([]);
  expect(doc.paths["/media/{fileId}/{filename}"].get.security).toEqual([]);
});

test("upload is described as multipart with one binary `file` field, and errors use the error body", () => {
  const op = doc.paths["/api/v1/files/upload"].post;
  const schema = op.requestBody.content["multipart/form-data"].schema;
  expect(schema.required).toEqual(["file"]);
  expect(schema.properties.file).toMatchObject({ type: "string", format: "binary" });
  for (const code of ["401", "413", "422", "429"]) {
    const body = op.responses[code].content["application/json"].schema;
    expect(body.required).toEqual(expect.arrayContaining(["error", "message"]));
  }
  const file = doc.paths["/api/v1/files/{fileId}"].get.responses["200"].content["application/json"].schema;
  expect(Object.keys(file.properties)).toEqual(
    expect.arrayContaining(["file_id", "storage_url", "status", "size_mbytes", "created_at"]),
  );
});

test("/ready reports database and storage", async () => {
  const r = await fetch(`${server.url}/ready`);
  expect(r.status).toBe(200);
  expect(await r.json()).toMatchObject({ status: "ready", database: "ok" });
});

test("the docs UI and its assets are served locally (works offline)", async () => {
  const html = await (await fetch(`${server.url}/docs`)).text();
  expect(html).toContain('src="/assets/swagger-ui-bundle.js"');
  expect(html).not.toMatch(/https?:\/\/(unpkg|cdn\.jsdelivr)/);
  const js = await fetch(`${server.url}/assets/swagger-ui-bundle.js`);
  expect(js.status).toBe(200);
  expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(500_000);
  expect((await fetch(`${server.url}/assets/swagger-ui.css`)).status).toBe(200);
});
