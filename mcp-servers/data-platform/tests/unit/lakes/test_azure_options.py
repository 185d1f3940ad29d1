"""Azure credentials and endpoints (lakes/azure.py): where users keep them, as pyarrow takes them."""

from __future__ import annotations

import pytest

from data_platform.errors import NotConfiguredError
from data_platform.lakes import azure


def test_a_connection_string_gives_account_key_and_an_emulator_endpoint() -> None:
    env = {
        "AZURE_STORAGE_CONNECTION_STRING": "AccountName=acct;AccountKey=c2VjcmV0;BlobEndpoint=http://127.0.0.1:10000/acct"
    }
    assert azure.options(env, {}, "az://c/x") == {
        "account_name": "acct",
        "account_key": "c2VjcmV0",
        "blob_storage_authority": "127.0.0.1:10000",
        "dfs_storage_authority": "127.0.0.1:10000",
        "blob_storage_scheme": "http",
        "dfs_storage_scheme": "http",
    }
    dev = azure.options({"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}, {}, "az://c")
    assert dev["account_name"] == azure.AZURITE_ACCOUNT and dev["blob_storage_authority"] == "127.0.0.1:10000"


def test_a_cloud_endpoint_keeps_the_account_in_the_host() -> None:
    got = azure.options(
        {}, {"key": "acct", "secret": "k", "endpoint": "https://acct.blob.core.windows.net"}, "x"
    )
    assert got["blob_storage_authority"] == ".blob.core.windows.net"  # pyarrow puts the account first
    assert got["dfs_storage_authority"] == ".dfs.core.windows.net"
    assert got["blob_storage_scheme"] == "https"


def test_the_cli_names_a_sas_token_and_an_entry_keeps_its_own_credentials() -> None:
    env = {"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_SAS_TOKEN": "?sv=2024&sig=abc"}
    assert azure.options(env, {}, "x") == {"account_name": "acct", "sas_token": "sv=2024&sig=abc"}
    env = {"AZURE_STORAGE_ACCOUNT_NAME": "other", "AZURE_STORAGE_ACCOUNT_KEY": "not-this-one"}
    assert azure.options(env, {"key": "mine", "token": "sv=1&sig=x"}, "x") == {
        "account_name": "mine",
        "sas_token": "sv=1&sig=x",
    }


def test_no_account_or_no_credential_is_refused_before_any_request() -> None:
    with pytest.raises(NotConfiguredError, match="No Azure storage account"):
        azure.options({}, {}, "az://c/x")
    with pytest.raises(NotConfiguredError, match="No credentials for Azure storage account 'acct'"):
        azure.options({"AZURE_STORAGE_ACCOUNT_NAME": "acct"}, {}, "az://c/x")
    principal = {"AZURE_CLIENT_ID": "i", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s"}
    assert azure.options({"AZURE_STORAGE_ACCOUNT_NAME": "acct", **principal}, {}, "x")["client_secret"] == "s"


def test_every_azure_secret_in_the_environment_is_redacted() -> None:
    env = {
        "AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=conn-key;SharedAccessSignature=conn-sas",
        "AZURE_STORAGE_KEY": "cli-key",
        "AZURE_CLIENT_SECRET": "sp-secret",
    }
    assert {
        "conn-key",
        "conn-sas",
        "cli-key",
        "sp-secret",
        env["AZURE_STORAGE_CONNECTION_STRING"],
    } <= azure.secrets(env)


def test_deltalake_gets_the_same_account_credential_and_endpoint() -> None:
    cloud = azure.options(
        {}, {"key": "acct", "token": "?sv=1&sig=x", "endpoint": "https://acct.blob.core.windows.net"}, "x"
    )
    assert azure.object_store(cloud) == {
        "azure_storage_account_name": "acct",
        "azure_storage_sas_key": "sv=1&sig=x",
        "azure_storage_endpoint": "https://acct.blob.core.windows.net",
    }
    emulator = azure.options({}, {"key": "acct", "secret": "k", "endpoint": "http://127.0.0.1:10000"}, "x")
    assert azure.object_store(emulator) == {
        "azure_storage_account_name": "acct",
        "azure_storage_account_key": "k",
        "azure_storage_endpoint": "http://127.0.0.1:10000/acct",
        "azure_allow_http": "true",
    }
    assert azure.object_store(azure.options({}, {"key": "acct", "secret": "k"}, "x")) == {
        "azure_storage_account_name": "acct",
        "azure_storage_account_key": "k",
    }
