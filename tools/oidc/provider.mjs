// An OpenID provider for the browser tests: `node provider.mjs <config.json>`.
//
// The test writes the configuration: the issuer and port, the one client (the workspace: the
// authorization code flow with PKCE, a client secret, its redirect and post-logout URIs), the
// audience the gateway requires, and the accounts (login, password, name and the claims the
// gateway reads: roles, region, municipality, org). Access tokens are JWTs signed with RS256 by a
// key made at start and published at /jwks; they carry the account's claims. People sign in on a
// form of this provider (Russian, accessible) and sign out on its confirmation page.
// Everything is kept in memory; "ready" is printed once it listens.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const accounts = new Map(config.accounts.map((account) => [account.login, account]));
const { audience } = config;
const client = config.client;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signing = {
  ...privateKey.export({ format: 'jwk' }),
  kid: crypto.randomBytes(8).toString('hex'),
  alg: 'RS256',
  use: 'sig',
};

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1d2733;background:#f6f8fa}
main{max-width:24rem;margin:3rem auto;padding:1.5rem;background:#fff;border:1px solid #d5dbe3;border-radius:8px}
h1{font-size:1.5rem;margin-top:0}label{display:block;margin:.75rem 0 .25rem}
input{font:inherit;width:100%;padding:.4rem .5rem;border:1px solid #8a96a3;border-radius:4px}
button{font:inherit;margin-top:1rem;padding:.45rem .9rem;border:1px solid #0b5cad;border-radius:6px;background:#0b5cad;color:#fff;cursor:pointer}
button.second{background:#fff;color:#0b5cad;margin-left:.5rem}
.problem{background:#fdecea;border:1px solid #f4b4ae;padding:.5rem .75rem;border-radius:6px}
:focus-visible{outline:3px solid #f0b400;outline-offset:2px}`;

function page(title, body) {
  return `<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} — тестовый сервер входа</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

function loginPage(uid, problem, login) {
  return page(
    'Вход',
    `<h1>Вход в Сетку</h1>
${problem ? `<p class="problem" role="alert">${escape(problem)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}" autocomplete="off">
<label for="login">Имя пользователя</label>
<input id="login" name="login" autocomplete="username" required autofocus value="${escape(login || '')}">
<label for="password">Пароль</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Войти</button>
</form>`,
  );
}

const provider = new Provider(config.issuer, {
  clients: [
    {
      client_id: client.client_id,
      client_secret: client.client_secret,
      client_name: 'Сетка',
      redirect_uris: client.redirect_uris,
      post_logout_redirect_uris: client.post_logout_redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signing] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  ttl: { AccessToken: 3600, IdToken: 3600, Session: 8 * 3600, Grant: 8 * 3600, Interaction: 600 },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== audience) throw new errors.InvalidTarget();
        return {
          scope: 'setka',
          audience,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.type = 'html';
        ctx.body = page(
          'Выход',
          `<h1>Выйти из Сетки?</h1>
<p>Вы выйдете и на этом сервере входа.</p>
${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout" autofocus>Выйти</button>
<button type="submit" form="op.logoutForm" class="second">Остаться</button>`,
        );
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.type = 'html';
        ctx.body = page('Выход', '<h1>Вы вышли</h1>');
      },
    },
  },
  findAccount: async (_ctx, sub) => {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, name: account.name, preferred_username: account.login }),
    };
  },
  // what the gateway reads: roles, region, municipality, org (the gateway's claim names)
  extraTokenClaims: async (_ctx, token) => {
    if (token.kind !== 'AccessToken') return undefined;
    const account = accounts.get(token.accountId);
    return account ? { ...account.claims, name: account.name } : undefined;
  },
  // the workspace is the provider's own client: no consent is asked
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const found = await ctx.oidc.provider.Grant.find(grantId);
      if (found) return found;
    }
    if (!ctx.oidc.session.accountId) return undefined;
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    grant.addResourceScope(audience, 'setka');
    await grant.save();
    return grant;
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page(
      'Ошибка',
      `<h1>Ошибка входа</h1><p class="problem" role="alert">${escape(out.error)}: ${escape(out.error_description || '')}</p>`,
    );
  },
});

async function formOf(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 65536) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function interaction(req, res, uid) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    send(res, 400, page('Ошибка', '<h1>Вход устарел</h1><p role="alert">Начните вход снова.</p>'));
    return;
  }
  if (details.uid !== uid) {
    send(res, 400, page('Ошибка', '<h1>Вход устарел</h1><p role="alert">Начните вход снова.</p>'));
    return;
  }
  if (details.prompt.name !== 'login') {
    // consent is never asked of the own client (loadExistingGrant); anything else ends here
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: `unexpected prompt ${details.prompt.name}`,
    });
    return;
  }
  if (req.method === 'GET') {
    send(res, 200, loginPage(uid));
    return;
  }
  const form = await formOf(req);
  const login = form.get('login') || '';
  const account = accounts.get(login);
  const given = Buffer.from(form.get('password') || '');
  const expected = Buffer.from(account ? account.password : crypto.randomBytes(16).toString('hex'));
  if (!account || given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    send(res, 200, loginPage(uid, 'Неверное имя пользователя или пароль', login));
    return;
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: account.login } },
    { mergeWithLastSubmission: false },
  );
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const path = new URL(req.url, config.issuer).pathname;
  const match = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(path);
  if (match && (req.method === 'GET' || req.method === 'POST')) {
    interaction(req, res, match[1]).catch((error) => {
      console.error(error);
      if (!res.headersSent) send(res, 500, page('Ошибка', '<h1>Ошибка сервера входа</h1>'));
    });
    return;
  }
  callback(req, res);
});

provider.on('server_error', (_ctx, error) => console.error('server_error', error));

server.listen(config.port, config.host || '127.0.0.1', () => {
  console.log(`ready ${config.issuer}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
