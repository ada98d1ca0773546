// The Procore integration's JSON API (interfaces.md, /api/v1/clients/{client_id}/procore) and the webhook
// receiver's route (POST /webhooks/procore/{integration_key}).
#pragma once

#include <cstddef>

#include "access/access.h"
#include "http/router.h"
#include "integration/integration_service.h"
#include "integration/webhook_receiver.h"

namespace kt::api {

// Every route is for client admins only.
void RegisterProcoreRoutes(http::Router& router, access::Access& access,
                           integration::IntegrationService& service);

// The receiver runs with its own body limit (config webhooks.max_body_bytes).
void RegisterWebhookReceiver(http::Router& router, integration::WebhookReceiver& receiver,
                             size_t max_body_bytes);

}  // namespace kt::api
