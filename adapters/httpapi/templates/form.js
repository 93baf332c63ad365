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
    fields().forEach(function (el) { values[el.name] = el.value; });
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
