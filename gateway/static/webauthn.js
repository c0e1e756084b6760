// Passkeys (WebAuthn) for the Console's forms marked data-webauthn="login|second-factor|reauth|register".
// A static file (the CSP allows no inline script). Each form is hidden until this script finds a
// browser with WebAuthn; on submit it fetches the options (data-options, POST with the page's
// CSRF token), runs the browser's ceremony, puts the credential (JSON) into the form's
// "credential" field and submits the form: the server answers like any other form.
// The login form (data-conditional="email") also offers passkeys in the email field's autofill
// (conditional mediation, autocomplete="username webauthn").
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials || window.gatewayPasskeys) {
    return;
  }

  window.gatewayPasskeys = true;  // included once per page even if two parts ask for it

  function toBytes(value) {
    var text = value.replace(/-/g, "+").replace(/_/g, "/");
    while (text.length % 4) { text += "="; }
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    json.challenge = toBytes(json.challenge);
    json.user.id = toBytes(json.user.id);
    (json.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return json;
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    json.challenge = toBytes(json.challenge);
    (json.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return json;
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") {
      return JSON.stringify(credential.toJSON());
    }
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      response: response, clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null
    });
  }

  function fetchOptions(form) {
    var token = form.querySelector('input[name="csrf_token"]');
    return fetch(form.getAttribute("data-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "", "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.error || "The server refused."); }
        return body;
      });
    });
  }

  function say(form, message) {
    var status = form.querySelector("[data-webauthn-status]");
    if (status) { status.textContent = message; }
  }

  function submitWith(form, credential) {
    form.querySelector('input[name="credential"]').value = credentialJSON(credential);
    var remember = form.querySelector('input[name="remember"]');
    var box = document.getElementById("remember");
    if (remember && box) { remember.value = box.checked ? "y" : ""; }
    say(form, "Checking your passkey…");
    form.submit();  // a plain form post: not this script's submit handler again
  }

  var conditional = null;  // AbortController of the pending autofill request

  function ceremony(form) {
    if (conditional) { conditional.abort(); conditional = null; }
    var kind = form.getAttribute("data-webauthn");
    say(form, "Follow your browser's prompt…");
    fetchOptions(form).then(function (options) {
      if (kind === "register") {
        return navigator.credentials.create({ publicKey: creationOptions(options) });
      }
      return navigator.credentials.get({ publicKey: requestOptions(options) });
    }).then(function (credential) {
      if (!credential) { throw new Error("No passkey was chosen."); }
      submitWith(form, credential);
    }).catch(function (error) {
      var message = error && error.name === "NotAllowedError"
        ? "The passkey prompt was closed or timed out. Try again."
        : (error && error.name === "InvalidStateError"
          ? "This passkey is already registered."
          : "That did not work: " + (error && error.message ? error.message : "try again."));
      say(form, message);
    });
  }

  function startAutofill(form) {
    if (!PublicKeyCredential.isConditionalMediationAvailable) { return; }
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) { return; }
      var controller = new AbortController();
      conditional = controller;
      fetchOptions(form).then(function (options) {
        return navigator.credentials.get({
          publicKey: requestOptions(options), mediation: "conditional", signal: controller.signal
        });
      }).then(function (credential) {
        if (credential && conditional === controller) { submitWith(form, credential); }
      }).catch(function () { /* aborted for the button, or the person typed a password */ });
    });
  }

  function setUp() {
    var forms = document.querySelectorAll("form[data-webauthn]");
    for (var i = 0; i < forms.length; i++) {
      (function (form) {
        form.hidden = false;
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          ceremony(form);
        });
        if (form.hasAttribute("data-conditional")) { startAutofill(form); }
      })(forms[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
