// LimeChat (Chatwoot) Dashboard App entry. The page is the same for every
// integration and holds nothing: with the app key from the URL fragment
// (never sent in a request line or logged) it asks lsqbridge which LimeChat
// origin it belongs to, asks that dashboard for its context, takes the open
// conversation's id from the appContext message (only from that origin),
// gets a signed form link for it and opens the form.
(function () {
  'use strict';
  var status = document.getElementById('status');
  var base = window.location.pathname.replace(/\/dashboard-app\/?$/, '');
  var key = new URLSearchParams(window.location.hash.slice(1)).get('key') || '';
  var current = null;

  function say(msg) { status.textContent = msg; }

  function get(path) {
    return fetch(path, { credentials: 'omit', headers: { 'X-Lsqbridge-App-Key': key } }).then(function (resp) {
      return resp.json().then(function (body) { return { status: resp.status, body: body }; });
    });
  }

  function listen(origin) {
    window.addEventListener('message', function (ev) {
      if (!origin || ev.origin !== origin) { return; }
      var msg = ev.data;
      if (typeof msg === 'string') {
        try { msg = JSON.parse(msg); } catch (e) { return; }
      }
      if (!msg || msg.event !== 'appContext' || !msg.data || !msg.data.conversation) { return; }
      var id = msg.data.conversation.id;
      if (!id || id === current) { return; }
      current = id;
      say('Opening the form for conversation #' + id + '…');
      get(base + '/tickets/' + encodeURIComponent(id) + '/opportunity-form/link').then(function (r) {
        if (r.status !== 200 || !r.body.path) { say(r.body.error || ('Could not open the form (HTTP ' + r.status + ').')); return; }
        window.location.replace(r.body.path);
      }).catch(function () { say('lsqbridge could not be reached.'); });
    });
    window.parent.postMessage('chatwoot-dashboard-app:fetch-info', '*');
  }

  if (!key) { say('This Dashboard App URL has no key: copy it again from lsqbridge.'); return; }
  get(base + '/dashboard-app/config').then(function (r) {
    if (r.status !== 200 || !r.body.limechat_origin) {
      say('This Dashboard App URL does not work (its key may have been rotated): copy the current one from lsqbridge.');
      return;
    }
    listen(r.body.limechat_origin);
  }).catch(function () { say('lsqbridge could not be reached.'); });
})();
