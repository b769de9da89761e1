"""A development-only WhatsApp provider that chatdesk talks to over HTTP, like Meta or Kapso.

It runs as its own process (`chatdesk simulator`) and never touches the app's database:
- it accepts chatdesk's sends on a Graph-compatible URL (`/graph/<version>/<phone_number_id>/
  messages`, Bearer token) and a Kapso-compatible one (`/kapso/meta/whatsapp/<version>/
  <phone_number_id>/messages`, `X-API-Key`), answers like Meta, and then emits correctly signed
  status webhooks (sent, delivered, read) to the app;
- it emits correctly signed inbound webhooks (Meta envelope or Kapso v2 event) for what a person
  types on its page (`/`) or a test posts to `/control/customer-message`;
- it injects faults on request (`/control/faults`): duplicate and reordered deliveries, delays,
  provider error codes, timeouts and rate limits;
- `/control/state` shows what it received, so a test can assert "the reply arrived exactly once".

Nothing here imports chatdesk's own signing or parsing code: the simulator builds and signs
payloads independently, so a bug on either side shows up as a failed round trip.
"""

from chatdesk.devtools.simulator.channels import SimChannel, SimulatorConfigError
from chatdesk.devtools.simulator.server import Simulator

__all__ = ["SimChannel", "Simulator", "SimulatorConfigError"]
