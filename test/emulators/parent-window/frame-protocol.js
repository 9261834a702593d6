// The parent side of the Bitrix24 frame protocol, as @bitrix24/b24jssdk 2.x speaks it (frame/message/controller.ts):
// the app posts "command:params:callbackKey:APP_SID" (params JSON, may be absent) to the portal origin; the parent
// answers "callbackKey:JSON" to the frame. The app URL is loaded with a form POST into the iframe, whose name is
// "DOMAIN|PROTOCOL|APP_SID" (the SDK reads window.name), as Bitrix24 does (reference §1.2).
(function () {
  const config = JSON.parse(document.getElementById('parent-window-config').textContent);
  const host = document.getElementById('app-host');
  const state = { frame: null, appOrigin: null, appSid: null, current: null, auth: config.auth, commands: [], resizes: [], installFinished: false, sliders: [] };
  window.parentWindow = state;

  // INSTALLER is the emulator's own name, not a Bitrix24 placement: the installer page as the portal shows it once the
  // app is installed (the built page itself; the real portal POSTs the grant to the installer path, which answers it).
  const PATHS = { DEFAULT: '/', CALL_CARD: '/placement/call-card', INSTALLER: '/install.html' };
  const pathFor = (placement) => PATHS[placement] || (/_DETAIL_TAB$/.test(placement) ? '/placement/crm-tab' : '/');

  function randomSid() {
    return Array.from(window.crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function field(form, name, value) {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }

  /** Opens the app in a placement, the way the portal does: fresh APP_SID, iframe named for the SDK, form POST. */
  function openPlacement(placement, options) {
    state.current = { placement, options: options || {} };
    const title = document.getElementById('parent-window-title');
    if (title) title.textContent = 'Bitrix24 · ' + placement;
    state.appSid = randomSid();
    host.replaceChildren();
    const frame = document.createElement('iframe');
    frame.name = [config.domain, config.protocol, state.appSid].join('|');
    frame.title = config.frameTitle || 'Application';
    frame.setAttribute('data-placement', placement);
    frame.style.width = '100%';
    frame.style.height = (config.initialHeight || 600) + 'px';
    frame.style.border = '0';
    host.appendChild(frame);
    state.frame = frame;

    const url = new URL(pathFor(placement), config.appUrl);
    url.searchParams.set('DOMAIN', config.domain);
    url.searchParams.set('PROTOCOL', String(config.protocol));
    url.searchParams.set('LANG', config.lang);
    url.searchParams.set('APP_SID', state.appSid);
    state.appOrigin = url.origin;

    if (placement === 'INSTALLER') {
      // The built installer page is static: loaded with a GET (the product's POST /install would install again).
      frame.src = url.toString();
      return;
    }
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = url.toString();
    form.target = frame.name;
    form.style.display = 'none';
    field(form, 'AUTH_ID', state.auth.AUTH_ID);
    field(form, 'AUTH_EXPIRES', String(state.auth.AUTH_EXPIRES));
    field(form, 'REFRESH_ID', state.auth.REFRESH_ID);
    field(form, 'member_id', config.memberId);
    field(form, 'status', 'L');
    field(form, 'PLACEMENT', placement);
    field(form, 'PLACEMENT_OPTIONS', JSON.stringify(options || {}));
    document.body.appendChild(form);
    form.submit();
    form.remove();
  }
  window.openPlacement = openPlacement;

  function initData() {
    return {
      DOMAIN: config.domain,
      PROTOCOL: String(config.protocol),
      PATH: '/',
      LANG: config.lang,
      MEMBER_ID: config.memberId,
      IS_ADMIN: config.isAdmin,
      APP_OPTIONS: {},
      USER_OPTIONS: {},
      PLACEMENT: state.current.placement,
      PLACEMENT_OPTIONS: state.current.options,
      INSTALL: false,
      FIRST_RUN: false,
      AUTH_ID: state.auth.AUTH_ID,
      REFRESH_ID: state.auth.REFRESH_ID,
      AUTH_EXPIRES: String(state.auth.AUTH_EXPIRES),
    };
  }

  async function refreshAuth() {
    const response = await window.fetch(config.refreshUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ memberId: config.memberId, userId: config.userId }),
    });
    if (!response.ok) throw new Error('refresh failed: ' + response.status);
    state.auth = await response.json();
    return { AUTH_ID: state.auth.AUTH_ID, REFRESH_ID: state.auth.REFRESH_ID, AUTH_EXPIRES: String(state.auth.AUTH_EXPIRES) };
  }

  // BX24.openPath / SDK slider.openPath: the portal opens only these paths, tested on the path as sent (the SDK prefixes
  // a base path such as /crm/type/0/details/0/../../../../.. that picks the slider's width), adds from=rest_placement,
  // opens its slider, and answers the callback once, when the slider closes: {result: 'close'}; a path it will not open
  // answers {result: 'error', errorCode: 'PATH_NOT_AVAILABLE'} at once.
  // https://apidocs.bitrix24.com/sdk/bx24-js-sdk/additional-functions/bx24-open-path.html
  const OPEN_PATH_ALLOWED = /^\/(crm\/(deal|lead|contact|company|type)|marketplace|company\/personal\/user\/[0-9]+|workgroups\/group\/[0-9]+)\//;

  function openSlider(path, onClose) {
    const full = path + (path.indexOf('?') === -1 ? '?' : '&') + 'from=rest_placement&from_app=' + encodeURIComponent(config.appCode || 'app');
    // The slider loads the page the browser resolves the path to (the base path's dots cancel out).
    const page = new URL(full, window.location.origin);
    const slider = { path, url: page.pathname + page.search, page: page.pathname, closed: false };
    state.sliders.push(slider);
    const panel = document.createElement('aside');
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-label', 'Bitrix24 slider');
    panel.setAttribute('data-testid', 'parent-slider');
    panel.style.cssText = 'position:fixed;top:0;right:0;bottom:0;width:60%;background:#fff;box-shadow:-8px 0 24px rgba(0,0,0,.25);padding:16px;z-index:10;font-family:system-ui,sans-serif';
    const heading = document.createElement('h2');
    heading.textContent = 'Bitrix24 slider';
    const shown = document.createElement('p');
    shown.setAttribute('data-testid', 'parent-slider-page');
    shown.textContent = slider.page;
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = 'Close slider';
    close.addEventListener('click', () => {
      slider.closed = true;
      panel.remove();
      onClose();
    });
    panel.append(heading, shown, close);
    document.body.appendChild(panel);
  }

  function parse(data) {
    const parts = data.split(':');
    if (parts.length < 3) return null;
    return { command: parts[0], appSid: parts[parts.length - 1], key: parts[parts.length - 2], params: parts.slice(1, -2).join(':') };
  }

  function answer(key, result) {
    if (!state.frame || !state.frame.contentWindow) return;
    state.frame.contentWindow.postMessage(key + ':' + (result === undefined ? '' : JSON.stringify(result)), state.appOrigin);
  }

  window.addEventListener('message', async (event) => {
    if (!state.frame || event.source !== state.frame.contentWindow || event.origin !== state.appOrigin) return;
    if (typeof event.data !== 'string') return;
    const message = parse(event.data);
    if (!message || message.appSid !== state.appSid) return;
    let params = {};
    if (message.params) {
      try { params = JSON.parse(message.params); } catch { params = message.params; }
    }
    state.commands.push({ command: message.command, params });
    switch (message.command) {
      case 'getInitData':
        return answer(message.key, initData());
      case 'refreshAuth':
        try { return answer(message.key, await refreshAuth()); } catch { return; }
      case 'resizeWindow': {
        const height = Number(params.height);
        if (Number.isFinite(height) && height > 0) {
          state.frame.style.height = Math.ceil(height) + 'px';
          state.resizes.push(height);
        }
        // As the portal does (rest/applayout.js resizeWindow): the frame's size after the change.
        const box = state.frame.getBoundingClientRect();
        return answer(message.key, { width: box.width, height: box.height });
      }
      case 'setTitle':
        document.title = String(params.title || document.title);
        return answer(message.key, {});
      case 'setInstallFinish':
        state.installFinished = true;
        return answer(message.key, {});
      case 'reloadWindow':
        return openPlacement(state.current.placement, state.current.options);
      case 'openPath': {
        const path = params && typeof params.path === 'string' ? params.path : '';
        if (path === '' || !OPEN_PATH_ALLOWED.test(path)) return answer(message.key, { result: 'error', errorCode: 'PATH_NOT_AVAILABLE' });
        return openSlider(path, () => answer(message.key, { result: 'close' }));
      }
      case 'getInterface':
        return answer(message.key, { command: [], event: [] });
      default:
        return answer(message.key, {});
    }
  });

  openPlacement(config.placement, config.placementOptions);
})();
