"""Groups at /gms: the IVOA Group Membership Service 1.0, and group management in the protocol
of CADC's group service (the one `cadcutils.net.GroupsClient` and `cadc-groups` speak).

    search.py     GET /gms/search (GMS 1.0; CADC's search by role), GET /gms/capabilities
    groups.py     /gms/groups: create, read, change and remove groups and their members
    group_xml.py  CADC's group documents, read and written

Who may do what is decided in the database (sql/95_auth_group_management.sql), by the
request's signed identity.
"""
