// The demo's control panel around the app frame: buttons that make the emulated PBX ring, and the call card popping
// up for the user when Bitrix24 registers a call for them (what the portal does with the CALL_CARD placement).
(function () {
  const demo = JSON.parse(document.getElementById('demo-config').textContent);
  const status = document.getElementById('demo-status');
  const shown = new Set();
  let lastCall = null;

  function say(text) {
    status.textContent = text;
  }

  // The page's language travels with every request: the answers come back in the words the controls use.
  async function post(path, body) {
    const payload = Object.assign({ lang: demo.lang }, body || {});
    const response = await window.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  }

  document.querySelectorAll('[data-call]').forEach((button) => {
    button.addEventListener('click', async () => {
      const record = document.getElementById('demo-record').checked;
      say(demo.text.calling);
      try {
        const answer = await post('/demo/api/call', { kind: button.getAttribute('data-call'), record });
        say(answer.message);
      } catch (error) {
        say(demo.text.refused.replace('{error}', error.message));
      }
    });
  });

  document.getElementById('demo-click-to-call').addEventListener('click', async () => {
    say(demo.text.calling);
    try {
      const answer = await post('/demo/api/click-to-call');
      say(answer.message);
    } catch (error) {
      say(demo.text.refused.replace('{error}', error.message));
    }
  });

  document.getElementById('demo-hangup').addEventListener('click', async () => {
    try {
      const answer = await post('/demo/api/hangup');
      say(answer.message);
    } catch (error) {
      say(demo.text.refused.replace('{error}', error.message));
    }
  });

  document.querySelectorAll('[data-view]').forEach((button) => {
    button.addEventListener('click', () => {
      const view = button.getAttribute('data-view');
      if (view === 'settings') window.openPlacement('DEFAULT', {});
      if (view === 'contact') window.openPlacement('CRM_CONTACT_DETAIL_TAB', { ID: String(demo.contactId) });
      if (view === 'card' && lastCall) window.openPlacement('CALL_CARD', cardOptions(lastCall));
    });
  });

  function cardOptions(call) {
    return {
      CALL_ID: call.callId,
      PHONE_NUMBER: call.phoneNumber,
      LINE_NUMBER: call.lineNumber,
      CRM_ENTITY_TYPE: call.crmEntityType || '',
      CRM_ENTITY_ID: String(call.crmEntityId || 0),
      CALL_DIRECTION: call.type === 1 ? 'outgoing' : 'incoming',
      CALL_STATE: 'connected',
    };
  }

  // Bitrix24 opens the call card for the user a call is registered for (telephony.externalCall.register, SHOW=1).
  async function watchCalls() {
    try {
      const response = await window.fetch('/demo/api/calls');
      const calls = await response.json();
      for (const call of calls) {
        if (call.userId !== demo.userId || call.finished || shown.has(call.callId)) continue;
        shown.add(call.callId);
        lastCall = call;
        say(demo.text.cardFor.replace('{phone}', call.phoneNumber));
        window.openPlacement('CALL_CARD', cardOptions(call));
      }
    } catch {
      // The demo server is restarting; try again on the next tick.
    }
    window.setTimeout(watchCalls, 1000);
  }
  watchCalls();
})();
