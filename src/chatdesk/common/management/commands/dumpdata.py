"""`dumpdata` that never writes a secret in clear.

Django's serializers read each field's Python value, which for EncryptedTextField is the
plaintext. While this command runs, encrypted columns read as `encrypted:<Fernet token>`
instead; `loaddata` understands that form (see chatdesk.common.fields).
"""

from django.core.management.commands.dumpdata import Command as DjangoDumpdata

from chatdesk.common.fields import reading_ciphertext


class Command(DjangoDumpdata):
    help = DjangoDumpdata.help + " Encrypted fields are written as their ciphertext."

    def handle(self, *app_labels, **options):
        with reading_ciphertext():
            return super().handle(*app_labels, **options)
