// LimeChat (Chatwoot) Dashboard App entry: ask the dashboard for its
// context, take the open conversation's id from the appContext message, get
// a signed form link for it with the app key (kept in the URL fragment, so
// it is never sent in a request line or logged) and open the form.
(function () {
  'use strict';
  var root = document.getElementById('dashboard-app');
  var status = document.getElementById('status');
  var origin = root.dataset.origin;
  var key = new URLSearchParams(window.location.hash.slice(1)).get('key') || '';
  var current = null;

  function say(msg) { status.textContent = msg; }

  window.addEventListener('message', function (ev) {
    if (origin && ev.origin !== origin) { return; }
    var msg = ev.data;
    if (typeof msg === 'string') {
      try { msg = JSON.parse(msg); } catch (e) { return; }
    }
    if (!msg || msg.event !== 'appContext' || !msg.data || !msg.data.conversation) { return; }
    var id = msg.data.conversation.id;
    if (!id || id === current) { return; }
    current = id;
    say('Opening the form for conversation #' + id + '…');
    fetch(root.dataset.links.replace('{ticket}', encodeURIComponent(id)), {
      credentials: 'omit',
      headers: { 'X-Lsqbridge-App-Key': key }
    }).then(function (resp) {
      return resp.json().then(function (body) { return { status: resp.status, body: body }; });
    }).then(function (r) {
      if (r.status !== 200 || !r.body.path) { say(r.body.error || ('Could not open the form (HTTP ' + r.status + ').')); return; }
      window.location.replace(r.body.path);
    }).catch(function () { say('lsqbridge could not be reached.'); });
  });

  if (!key) { say('This Dashboard App URL has no key: copy it again from lsqbridge.'); return; }
  window.parent.postMessage('chatwoot-dashboard-app:fetch-info', '*');
})();
