// The SAML answer page (templates/sso/saml_post.html) posts itself on to the gateway at
// once; without script, its Continue button does the same.
"use strict";
const samlForm = document.querySelector("form[data-auto-submit]");
if (samlForm) {
  samlForm.submit();
}
