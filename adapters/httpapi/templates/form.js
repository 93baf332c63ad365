// The agent page's only script: submit the form as JSON to the form API,
// authenticated by the signed link the page was opened with, and show the
// answer: success, or each field's error next to the field.
(function () {
  'use strict';
  var form = document.getElementById('opportunity-form');
  if (!form) { return; }
  var button = document.getElementById('submit');
  var busy = document.getElementById('busy');
  var formError = document.getElementById('form-error');
  // One Idempotency-Key per submission: kept when the answer never came (a
  // resend is then safe), replaced after any answer.
  var key = null;

  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  function fields() { return form.querySelectorAll('[data-field]'); }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  // Date-times travel in UTC ("2026-12-20 09:30:00"); the agent reads and
  // types them in local time ("2026-12-20 15:00") and the page sends them
  // with the local offset ("2026-12-20T15:00:00+05:30"), which the server
  // turns back into UTC. Anything else is sent as typed, so the server's
  // message about the format reaches the agent.
  var utcPattern = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$/;
  function offsetOf(d) {
    var m = -d.getTimezoneOffset();
    var sign = m < 0 ? '-' : '+';
    m = Math.abs(m);
    return sign + pad(Math.floor(m / 60)) + ':' + pad(m % 60);
  }
  function localFromUTC(v) {
    var m = utcPattern.exec(v);
    if (!m) { return v; }
    var d = new Date(Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)));
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes());
  }
  function withOffset(v) {
    var m = utcPattern.exec(v.trim());
    if (!m) { return v; }
    var d = new Date(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    if (d.getFullYear() !== +m[1] || d.getMonth() !== m[2] - 1 || d.getDate() !== +m[3]) {
      return v; // not a real day: let the server say so
    }
    return m[1] + '-' + m[2] + '-' + m[3] + 'T' + m[4] + ':' + m[5] + ':' + (m[6] || '00') + offsetOf(d);
  }
  form.querySelectorAll('[data-datetime]').forEach(function (el) {
    el.value = localFromUTC(el.value);
    var hint = document.getElementById('hint-' + el.name);
    if (hint) { hint.textContent += ' (UTC' + offsetOf(new Date()) + ')'; }
  });

  // A dependent select (Stage) offers the options of its parent's value
  // (Status): swapped in whenever the parent changes.
  form.querySelectorAll('select[data-depends-on]').forEach(function (child) {
    var parent = document.getElementById('f-' + child.dataset.dependsOn);
    var byParent = {};
    try { byParent = JSON.parse(child.dataset.options || '{}'); } catch (e) { return; }
    if (!parent) { return; }
    parent.addEventListener('change', function () {
      var keep = child.value;
      var opts = byParent[parent.value] || [];
      while (child.options.length > 1) { child.remove(1); }
      opts.forEach(function (o) { child.add(new Option(o, o, false, o === keep)); });
      if (opts.indexOf(keep) < 0) { child.value = ''; }
      child.disabled = opts.length === 0;
    });
  });

  function valueOf(el) {
    if (el.multiple) {
      return Array.prototype.filter.call(el.options, function (o) { return o.selected; })
        .map(function (o) { return o.value; });
    }
    if (el.hasAttribute('data-datetime')) { return withOffset(el.value); }
    return el.value;
  }

  function clearErrors() {
    formError.hidden = true;
    formError.textContent = '';
    form.querySelectorAll('p.error').forEach(function (p) { p.hidden = true; p.textContent = ''; });
    fields().forEach(function (el) { el.removeAttribute('aria-invalid'); });
  }

  function showFormError(msg) {
    formError.textContent = msg;
    formError.hidden = false;
  }

  function showErrors(errors) {
    var general = [];
    Object.keys(errors || {}).forEach(function (schema) {
      var p = document.getElementById('err-' + schema);
      var input = document.getElementById('f-' + schema);
      if (p && input) {
        p.textContent = errors[schema];
        p.hidden = false;
        input.setAttribute('aria-invalid', 'true');
      } else {
        general.push(errors[schema]);
      }
    });
    if (general.length) { showFormError(general.join(' ')); }
    var first = form.querySelector('[aria-invalid="true"]');
    if (first) { first.focus(); }
  }

  function showSuccess(body) {
    document.getElementById('opportunity-id').textContent = body.opportunity_id;
    var detail = body.ticket_id ? ' and linked to ticket #' + body.ticket_id
      : ', and a new ticket is being opened for it';
    document.getElementById('success-detail').textContent = detail;
    document.getElementById('success').hidden = false;
    fields().forEach(function (el) { el.disabled = true; });
    button.hidden = true;
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    clearErrors();
    if (!key) { key = newKey(); }
    var values = {};
    fields().forEach(function (el) { values[el.name] = valueOf(el); });
    button.disabled = true;
    busy.hidden = false;
    fetch(form.dataset.endpoint, {
      method: 'POST',
      credentials: 'omit',
      headers: {
        'Content-Type': 'application/json',
        'Idempotency-Key': key,
        'X-Lsqbridge-Link-Expires': form.dataset.exp,
        'X-Lsqbridge-Link-Signature': form.dataset.sig
      },
      body: JSON.stringify({ fields: values })
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        return { status: resp.status, body: body };
      });
    }).then(function (r) {
      if (r.status === 409 && !/already used/.test(r.body.error || '')) {
        showFormError(r.body.error || 'This submission is still being processed; submit again in a moment.');
        return;
      }
      key = null;
      if (r.status === 201 || r.status === 200) {
        showSuccess(r.body);
      } else if (r.status === 422 && r.body.errors) {
        showErrors(r.body.errors);
      } else {
        showFormError(r.body.error || ('Unexpected answer (HTTP ' + r.status + ').'));
      }
    }).catch(function () {
      showFormError('The server could not be reached. Submit again: the same submission is retried safely.');
    }).then(function () {
      button.disabled = false;
      busy.hidden = true;
    });
  });
})();
